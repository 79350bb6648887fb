// The RFC 8555 order, step by step (section 7.4): place it, read and check its authorizations,
// answer the challenges once their responses are published and poll until the CA validates them,
// finalize with the CSR and download the chain. Every call to the CA goes through Run.ca, so what
// the CA refuses ends the run as "the CA refused WHAT" (exit 9) and our own errors pass unchanged.
import { CaError, CancelledError } from '../errors.js';
import { oneLine } from './acme-answers.js';
import type { AnswerCheck, CheckedAuthz, CheckedChallenge, CheckedOrder, Identifier } from './acme-answers.js';
import type { AcmeClient } from './acme-client.js';
import { causeOf } from './acme-http.js';

/** One order's state and its way of calling the CA. */
export interface Run {
  client: AcmeClient;
  check: AnswerCheck;
  ordered: Identifier[];
  type: 'dns-01' | 'http-01';
  signal?: AbortSignal;
  /** Calls the CA: anything but our own errors becomes "the CA refused WHAT: ..." (exit 9). */
  ca<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

/** A problem document (RFC 7807) as one escaped line: its detail and short type. */
function problemText(p: unknown): string | undefined {
  const d = p as { detail?: unknown; type?: unknown } | undefined;
  if (typeof d?.detail !== 'string' || !d.detail) return undefined;
  const type = typeof d.type === 'string' ? ` (${oneLine(d.type.replace('urn:ietf:params:acme:error:', ''), 60)})` : '';
  return `${oneLine(d.detail)}${type}`;
}

/** What the CA says in one line: its problem detail, or the network cause. */
export function caMessage(err: unknown): string {
  const e = err as Error & { response?: { status?: number; data?: unknown } };
  return problemText(e.response?.data) ?? oneLine(causeOf(err));
}

/** The order for `run.ordered` (RFC 9773 section 5: `replaces` names the certificate it renews). */
export function placeOrder(run: Run, replaces: string | undefined, profile?: string): Promise<CheckedOrder> {
  return run.ca('the order', async () => {
    // draft-ietf-acme-profiles: the order names the profile; certbot 4 --preferred-profile, cert-manager 1.18.
    const request = { identifiers: run.ordered, ...(replaces ? { replaces } : {}), ...(profile ? { profile } : {}) };
    const x = await run.client.createOrder(request as Parameters<AcmeClient['createOrder']>[0]);
    return run.check.order(x, (x as { url?: unknown } | null)?.url, run.ordered);
  });
}

/**
 * Every authorization of the order, each checked (its name was ordered, its challenge token is
 * base64url) before anything is published: a bad one leaves no record, no hook call and no file behind.
 */
export function checkedAuthorizations(run: Run, order: CheckedOrder): Promise<CheckedAuthz[]> {
  return run.ca('the authorizations', async () =>
    (await run.client.getAuthorizations(order as never)).map((a, i) =>
      run.check.authz(a, order.authorizations[i]!, run.ordered),
    ),
  );
}

/** Answer every published challenge (RFC 8555 section 7.5.1), then poll each authorization until valid. */
export async function validate(run: Run, picked: { authz: CheckedAuthz; ch: CheckedChallenge }[]): Promise<void> {
  const { client } = run;
  await run.ca('a challenge', async () => {
    await Promise.all(
      picked.map(async (p) => {
        run.check.challengeAnswer(await client.completeChallenge(p.ch as never));
      }),
    );
    await Promise.all(
      picked.map((p) =>
        untilValid(
          run,
          p.authz,
          async () => {
            const [a] = await client.getAuthorizations({ authorizations: [p.authz.url] } as never);
            return run.check.authz(a, p.authz.url, run.ordered);
          },
          (a) => problemText(a.challenges.find((c) => c.type === run.type)?.error),
        ),
      ),
    );
  });
}

/** Finalize with the CSR (RFC 8555 section 7.4), poll until the order is valid, download the chain. */
export async function finalize(run: Run, order: CheckedOrder, csrPem: string): Promise<string> {
  const { client } = run;
  const done = await run.ca('the certificate request', async () => {
    const fin = run.check.order(await client.finalizeOrder(order as never, csrPem), order.url, run.ordered);
    const next = async () => run.check.order(await client.getOrder(fin as never), order.url, run.ordered);
    return untilValid(run, fin, next, (x) => problemText(x.error));
  });
  if (!done.certificate) throw run.check.refuse('a valid order without a "certificate" URL:', done);
  const chain = await run.ca('the certificate download', () => client.getCertificate(done as never));
  return run.check.chain(chain);
}

/** Wait `ms`, or stop at once on the signal. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cancel = () => {
      clearTimeout(t);
      reject(new CancelledError('Cancelled (Ctrl-C / SIGTERM) during the ACME validation: nothing was changed.'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', cancel);
      resolve();
    }, ms);
    if (signal?.aborted) return cancel();
    signal?.addEventListener('abort', cancel, { once: true });
  });
}

const POLL_ATTEMPTS = 40;

/**
 * Poll an authorization or an order (RFC 8555 7.5.1) until it is valid: each answer checked, an
 * exponential backoff from 50 ms doubling to 1.5 s (about a minute in all), "invalid" is the CA's
 * refusal. A CA answers a DNS-01 check or a finalize in tens of milliseconds (pebble, Boulder's
 * VA): a first wait of 0.2 s was 0.4 s of a 1 s renewal; starting at 50 ms costs a CA at most two
 * more requests per authorization and per order.
 */
async function untilValid<T extends CheckedAuthz | CheckedOrder>(
  run: Run,
  first: T,
  next: () => Promise<T>,
  why: (x: T) => string | undefined,
): Promise<T> {
  let x = first;
  for (let i = 0; x.status !== 'valid'; i++) {
    const refused = ['invalid', 'deactivated', 'expired', 'revoked'].includes(x.status);
    if (refused) throw new Error(why(x) ?? `it is ${x.status}`);
    if (i >= POLL_ATTEMPTS) {
      const todo = 'nothing was changed; the next scheduled renew tries again';
      throw new CaError(`the CA at ${run.check.ca} still says "${x.status}" after ${POLL_ATTEMPTS} checks: ${todo}`);
    }
    await pause(Math.min(50 * 2 ** i, 1500), run.signal);
    x = await next();
  }
  return x;
}
