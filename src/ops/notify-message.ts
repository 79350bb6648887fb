// What a notification says (pure): which events a tenant's outcome raises, the JSON document, and
// its renderings for Slack, Microsoft Teams and mail. README "Notifications" documents the shapes.
import { EXIT } from '../errors.js';
import type { NotifyEvent, NotifyFormat } from './notify-settings.js';

/** What the command gets on stdin and a json webhook receives. */
export interface NotifyDoc {
  /** "ns/secret". */
  tenant: string;
  namespace: string;
  secret: string;
  event: NotifyEvent;
  /** renewed, skipped; or the failure: refused (nothing changed), rolled-back, rollback-failed, ca-refused, busy,
   * cancelled. */
  result: string;
  exitCode: number;
  message: string;
  /** The installed certificate's expiry (ISO), when it could be read. */
  expiry: string | null;
  /** When the next renewal attempt is due or allowed (ISO), when known. */
  nextAttempt: string | null;
  at: string;
  host: string;
}

/** One tenant's end of a renew run, as the notifications see it. */
export interface TenantOutcome {
  namespace: string;
  secret: string;
  exitCode: number;
  /** renew's action when it did not fail. */
  action?: 'renewed' | 'skipped' | 'dry-run';
  message: string;
}

/** The word for an outcome: the words the renewal state's Attempt.result uses (ops/renew-record.ts). */
export function resultWord(o: Pick<TenantOutcome, 'exitCode' | 'action'>): string {
  if (o.exitCode === 0) return o.action ?? 'renewed';
  const words: Record<number, string> = {
    [EXIT.ROLLED_BACK]: 'rolled-back',
    [EXIT.ROLLBACK_FAILED]: 'rollback-failed',
    [EXIT.CA]: 'ca-refused',
    [EXIT.BUSY]: 'busy',
    [EXIT.CANCELLED]: 'cancelled',
  };
  return words[o.exitCode] ?? 'refused';
}

/**
 * The failure and change events of one outcome: a failed attempt is a failure; a renewal, or a
 * rollback, is a change. One message per tenant per attempt: a rollback already told as a failure
 * is not told again as a change.
 */
export function attemptEvents(o: TenantOutcome, on: readonly NotifyEvent[]): NotifyEvent[] {
  if (o.exitCode !== 0) {
    if (on.includes('failure')) return ['failure'];
    const rolledBack = o.exitCode === EXIT.ROLLED_BACK || o.exitCode === EXIT.ROLLBACK_FAILED;
    return rolledBack && on.includes('change') ? ['change'] : [];
  }
  return o.action === 'renewed' && on.includes('change') ? ['change'] : [];
}

const DAY = 86_400_000;
/** Whole days from `now` to `expiry` (0 on its last day, negative once expired). */
export const daysLeft = (expiry: string, now: Date) => Math.floor((Date.parse(expiry) - now.getTime()) / DAY);

/** An "expiring" notice goes at most once per calendar day (the host's time zone) per tenant. */
export function expiringNoticeDue(lastNotice: string | undefined, now: Date): boolean {
  if (!lastNotice) return true;
  const last = new Date(lastNotice);
  return Number.isNaN(last.getTime()) || last.toDateString() !== now.toDateString() || last > now;
}

const inDays = (n: number) =>
  n < 0
    ? `expired ${-n} day${n === -1 ? '' : 's'} ago`
    : n === 0
      ? 'expires today'
      : `expires in ${n} day${n === 1 ? '' : 's'}`;

/** One line: what happened to which tenant (mail subject, chat title). */
export function title(d: NotifyDoc): string {
  if (d.event === 'failure') return `xsoar-cert: renewal of ${d.tenant} failed`;
  if (d.event === 'change') return `xsoar-cert: ${d.tenant} ${d.result}`;
  return `xsoar-cert: ${d.tenant} ${d.expiry ? inDays(daysLeft(d.expiry, new Date(d.at))) : 'expires soon'}`;
}

const HINTS: Record<number, string> = {
  [EXIT.INPUT]: 'The source held no usable certificate, or a file could not be read: see the message.',
  [EXIT.CLUSTER]: 'The cluster could not be reached or refused: nothing was changed.',
  [EXIT.ROLLED_BACK]: 'The new certificate failed its checks after install: the previous one was restored.',
  [EXIT.ROLLBACK_FAILED]: 'The rollback failed too: the tenant needs a person now.',
  [EXIT.BUSY]: 'Another xsoar-cert run held the lock: nothing was changed.',
  [EXIT.CA]: 'The ACME CA refused or could not be reached: nothing was changed.',
};

/** The plain text of a notification: what happened, then what to do. */
export function bodyLines(d: NotifyDoc): string[] {
  const expiry = d.expiry ? `${d.expiry} (${inDays(daysLeft(d.expiry, new Date(d.at)))})` : 'unknown';
  const left = d.expiry ? inDays(daysLeft(d.expiry, new Date(d.at))) : 'expires soon';
  const failed = `(${d.result}, exit ${d.exitCode}):`;
  const what =
    d.event === 'failure'
      ? [`The renewal of the certificate of ${d.tenant} on ${d.host} failed at ${d.at} ${failed}`]
      : d.event === 'change'
        ? [`The certificate of ${d.tenant} was ${d.result} at ${d.at} on ${d.host}:`]
        : [`The certificate of ${d.tenant} ${left},`, `and its last renewal attempt did not succeed ${failed}`];
  const lines = [...what, `  ${d.message}`, '', `Installed certificate expires: ${expiry}`];
  if (d.nextAttempt) lines.push(`Next renewal attempt: ${d.nextAttempt}`);
  if (d.event === 'change' && d.exitCode === 0) return lines;
  const hint = HINTS[d.exitCode];
  return [
    ...lines,
    ...(hint ? ['', hint] : []),
    '',
    'What to do: look at the tenant and the failed runs,',
    `  xsoar-cert status -n ${d.namespace}`,
    '  xsoar-cert audit --failed --since 7d',
    'fix the cause, then renew by hand (xsoar-cert renew ... --force) or let the next scheduled run do it.',
    ...(d.event === 'expiring' ? ['(This notice is sent at most once a day per tenant.)'] : []),
  ];
}

/** Slack mrkdwn: &, < and > are control characters and must be escaped (api.slack.com, "Formatting text"). */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The body a webhook receives. json: the document. slack: an incoming webhook's {"text"}.
 * teams: an Adaptive Card in a message's attachments, the shape Microsoft documents for Teams
 * incoming webhooks ("Send Adaptive Cards using an Incoming Webhook") and that the Workflows
 * "Post to a channel when a webhook request is received" template posts.
 */
export function webhookBody(d: NotifyDoc, format: NotifyFormat): unknown {
  if (format === 'json') return d;
  if (format === 'slack') return { text: slackEscape([`*${title(d)}*`, ...bodyLines(d)].join('\n')) };
  const facts = [
    ['tenant', d.tenant],
    ['event', d.event],
    ['result', `${d.result} (exit ${d.exitCode})`],
    ['expiry', d.expiry ?? 'unknown'],
    ['next attempt', d.nextAttempt ?? '-'],
    ['host', d.host],
    ['at', d.at],
  ];
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.2',
    body: [
      { type: 'TextBlock', text: title(d), weight: 'Bolder', size: 'Medium', wrap: true },
      { type: 'TextBlock', text: bodyLines(d).join('\n\n'), wrap: true },
      { type: 'FactSet', facts: facts.map(([t, v]) => ({ title: t, value: v })) },
    ],
  };
  const attachment = { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card };
  return { type: 'message', attachments: [attachment] };
}

export function mailMessage(d: NotifyDoc): { subject: string; text: string } {
  return { subject: title(d), text: bodyLines(d).join('\n') + '\n' };
}
