// renew's notifications (README "Notifications"), sent once the run's results are known: for each
// tenant, the events its outcome raises (notify-message.ts), each delivered by every channel set
// (a command, a webhook, a mail). A channel that fails is a warning and an audit record
// ('notify', 'notify-failed'); nothing here throws, so the renewal's exit code stays its own.
// 'expiring' goes at most once a day per tenant, remembered in its renewal state.
import { hostname } from 'node:os';
import { appendAudit } from '../audit/log.js';
import { EXIT, XsoarCertError } from '../errors.js';
import { Kubectl } from '../k8s/kubectl.js';
import { MAX_PASSPHRASE_BYTES, readInputFile } from '../pki/input-file.js';
import { printable } from '../printable.js';
import { redact } from '../redact.js';
import { bounded } from '../pool.js';
import type { FleetResult, Target } from './fleet.js';
import { installedLeaf } from './installed.js';
import {
  attemptEvents,
  expiringNoticeDue,
  mailMessage,
  resultWord,
  webhookBody,
  type NotifyDoc,
  type TenantOutcome,
} from './notify-message.js';
import type { NotifyEvent, NotifySettings } from './notify-settings.js';
import { readRenewalState, writeRenewalState, type RenewalState } from './renewal-state.js';
import type { RenewResult } from './renew.js';
import type { Reporter } from './reporter.js';

export interface NotifyContext {
  dryRun?: boolean;
  context?: string;
  kubeconfig?: string;
  now?: () => Date;
}

export interface Notifier {
  /** The per-tenant results once renew gave them (a fleet that then throws PartialError keeps them). */
  seen(results: FleetResult<RenewResult>[]): void;
  /** Notify about every target: its seen result, or `err` when renew threw first. Never throws. */
  send(targets: Target[], err?: unknown): Promise<void>;
}

/** renewAt: when a skipped tenant is due; notAfter: the installed certificate's expiry, when renew read it. */
type Outcome = TenantOutcome & { renewAt?: string; notAfter?: string };

/** A dry run changes nothing and tells no one; without settings there is no one to tell. */
export function notifier(settings: NotifySettings | undefined, ctx: NotifyContext, out: Reporter): Notifier {
  let results: FleetResult<RenewResult>[] = [];
  return {
    seen: (r) => void (results = r),
    async send(targets, err) {
      if (!settings || ctx.dryRun) return;
      const same = (a: Target, b: Target) => a.namespace === b.namespace && a.secret === b.secret;
      const outcomes = targets.map((t) =>
        outcomeOf(
          t,
          results.find((r) => same(r.target, t)),
          err,
        ),
      );
      try {
        await bounded(outcomes, 4, (o) => notifyTenant(o, settings, ctx, out));
      } catch (e) {
        out.warn(`notifications: ${printable((e as Error).message)}`);
      }
    },
  };
}

function outcomeOf(t: Target, r: FleetResult<RenewResult> | undefined, err: unknown): Outcome {
  const who = { namespace: t.namespace, secret: t.secret };
  const v = r?.ok ? r.value : undefined;
  if (v?.action === 'skipped') {
    const message = `not due: ${v.reason}`;
    return { ...who, exitCode: 0, action: v.action, message, renewAt: v.renewAt, notAfter: v.notAfter };
  }
  if (v) {
    const message =
      `${v.action} from ${v.from}` + (v.transaction.newFingerprint ? `: ${v.transaction.newFingerprint}` : '');
    return { ...who, exitCode: 0, action: v.action, message, notAfter: v.notAfter };
  }
  if (r) return { ...who, exitCode: r.exitCode ?? EXIT.INTERNAL, message: r.error ?? 'failed' };
  const code = err instanceof XsoarCertError ? err.exitCode : EXIT.INTERNAL;
  return { ...who, exitCode: code, message: err instanceof Error ? err.message : 'renew gave no result' };
}

function stateOf(o: Outcome, out: Reporter): RenewalState | undefined {
  try {
    return readRenewalState(o.namespace, o.secret);
  } catch (e) {
    out.warn(`${o.namespace}/${o.secret}: ${printable((e as Error).message)} (no expiring notice)`);
    return undefined;
  }
}

/** The installed certificate's expiry, read from the secret now (undefined when it cannot be read). */
async function installedExpiry(o: Outcome, ctx: NotifyContext): Promise<string | undefined> {
  try {
    const k = new Kubectl({ namespace: o.namespace, context: ctx.context, kubeconfig: ctx.kubeconfig });
    const s = await k.getSecret(o.secret);
    const leaf = s.found ? installedLeaf(s.object) : undefined;
    return leaf ? new Date(leaf.validTo).toISOString() : undefined;
  } catch {
    return undefined;
  }
}

async function notifyTenant(o: Outcome, s: NotifySettings, ctx: NotifyContext, out: Reporter): Promise<void> {
  const now = ctx.now?.() ?? new Date();
  const state = stateOf(o, out);
  const last = state?.lastAttempt;
  const lastFailed = o.exitCode !== 0 || (o.action === 'skipped' && last !== undefined && last.exitCode !== 0);
  const events: NotifyEvent[] = attemptEvents(o, s.on);
  const mayExpire =
    s.on.includes('expiring') && lastFailed && state && expiringNoticeDue(state.lastExpiringNotice, now);
  if (!events.length && !mayExpire) return;
  const expiry = o.notAfter ?? (await installedExpiry(o, ctx)) ?? state?.notAfter ?? null;
  if (mayExpire && expiry && Date.parse(expiry) - now.getTime() <= s.expiringDays * 86_400_000) events.push('expiring');
  for (const event of events) {
    const failedBefore = event === 'expiring' && o.exitCode === 0 && last;
    const doc: NotifyDoc = {
      tenant: `${o.namespace}/${o.secret}`,
      namespace: o.namespace,
      secret: o.secret,
      event,
      result: failedBefore ? last.result : resultWord(o),
      exitCode: failedBefore ? last.exitCode : o.exitCode,
      message: redact(failedBefore ? (last.error ?? last.result) : o.message),
      expiry,
      nextAttempt: o.renewAt ?? state?.nextAttempt ?? null,
      at: now.toISOString(),
      host: hostname(),
    };
    const delivered = await deliver(doc, s, out);
    if (event === 'expiring' && delivered) remember(o, now, out);
  }
}

/** lastExpiringNotice, written into the state as it is now (the run may have written it meanwhile). */
function remember(o: Outcome, now: Date, out: Reporter): void {
  try {
    writeRenewalState({ ...readRenewalState(o.namespace, o.secret), lastExpiringNotice: now.toISOString() });
  } catch (e) {
    out.warn(`${o.namespace}/${o.secret}: could not remember the expiring notice: ${printable((e as Error).message)}`);
  }
}

/** Every channel at once; true when at least one delivered. Failures are warned about and audited. */
async function deliver(doc: NotifyDoc, s: NotifySettings, out: Reporter): Promise<boolean> {
  const channels: [string, () => Promise<void>][] = [];
  if (s.cmd) channels.push(['--notify-cmd', () => viaCommand(doc, s.cmd!)]);
  if (s.url) channels.push(['--notify-url', () => viaWebhook(doc, s)]);
  if (s.mail) channels.push(['--notify-mail', () => viaMail(doc, s)]);
  const started = Date.now();
  const done = await Promise.allSettled(channels.map(([, send]) => send()));
  done.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const why = redact((r.reason as Error)?.message ?? String(r.reason));
    out.warn(`${doc.tenant}: the ${doc.event} notification by ${channels[i]![0]} was not delivered: ${printable(why)}`);
    try {
      appendAudit({
        op: 'notify',
        namespace: doc.namespace,
        secret: doc.secret,
        result: 'notify-failed',
        error: `${doc.event} by ${channels[i]![0]}: ${why}`,
        durationMs: Date.now() - started,
      });
    } catch (e) {
      out.warn(`${doc.tenant}: the audit log could not record it: ${printable((e as Error).message)}`);
    }
  });
  return done.some((r) => r.status === 'fulfilled');
}

async function viaCommand(doc: NotifyDoc, cmd: string): Promise<void> {
  const { runNotifyCommand } = await import('../net/notify-cmd.js');
  const vars = { XSOAR_CERT_NOTIFY_EVENT: doc.event, XSOAR_CERT_NOTIFY_TENANT: doc.tenant };
  await runNotifyCommand(cmd, JSON.stringify(doc) + '\n', vars);
}

async function viaWebhook(doc: NotifyDoc, s: NotifySettings): Promise<void> {
  const { postWebhook } = await import('../net/notify-http.js');
  const ca = s.ca ? await readInputFile(s.ca, { what: 'a CA file (--notify-ca)' }) : undefined;
  await postWebhook(s.url!, webhookBody(doc, s.format), ca);
}

async function viaMail(doc: NotifyDoc, s: NotifySettings): Promise<void> {
  const { sendMail } = await import('../net/notify-mail.js');
  const m = s.mail!;
  const read = (f: string) =>
    readInputFile(f, { maxBytes: MAX_PASSPHRASE_BYTES, what: 'an SMTP password file', allowPipe: true });
  const password = m.passwordFile ? (await read(m.passwordFile)).toString('utf8').replace(/\r?\n$/, '') : undefined;
  const ca = s.ca ? await readInputFile(s.ca, { what: 'a CA file (--notify-ca)' }) : undefined;
  await sendMail(
    { host: m.host, port: m.port, starttls: m.starttls, user: m.user, password, ca },
    { from: m.from, to: m.to, ...mailMessage(doc) },
  );
}
