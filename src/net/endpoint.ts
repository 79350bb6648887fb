// An endpoint's TLS, before and after a change: HOST:PORT parsing (one parser for every command),
// the check that it serves what is installed before anything changes, and the confirmation that
// it serves the new certificate over TLS 1.2 and 1.3 afterwards.
import { EndpointError, Interrupted, UsageError } from '../errors.js';
import { fetchServedChain } from './served-cert.js';

/** HOST:PORT with a port from 1 to 65535 (IPv6 in brackets); a UsageError otherwise. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(endpoint);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new UsageError(
      `--endpoint "${endpoint}": expected HOST:PORT with a port from 1 to 65535 (e.g. xsoar.example.com:443)`,
    );
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Before anything changes: the endpoint answers TLS and serves the certificate installed now.
 * A wrong --endpoint (a closed port, a plain-HTTP port, another tenant's port) used to be found
 * only after the secret was replaced and the proxy restarted, ending in a rollback. A connection
 * fault is retried twice, so one dropped connection needs no human.
 */
export async function checkEndpoint(
  endpoint: string,
  installedFingerprint: string | undefined,
  where: string,
  servername?: string,
): Promise<void> {
  parseEndpoint(endpoint);
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, 300 * attempt));
    try {
      const served = await fetchServedChain(endpoint, { servername, timeoutMs: 4000 });
      const leaf = served.chain[0];
      if (!installedFingerprint || leaf?.fingerprint256 === installedFingerprint) return;
      const cn = leaf ? /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1] : undefined;
      throw new EndpointError(
        `--endpoint ${endpoint} serves ${leaf ? `${leaf.fingerprint256}${cn ? ` ("${cn}")` : ''}` : 'no certificate'}, not the certificate installed in ${where} (${installedFingerprint}): it is probably another tenant's endpoint`,
        'Pass the endpoint of this tenant (status shows what each serves), or --no-confirm to change the secret without checking the live certificate. Nothing was changed.',
      );
    } catch (err) {
      if (err instanceof EndpointError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      last =
        code === 'ECONNREFUSED'
          ? 'connection refused'
          : code === 'ETIMEDOUT'
            ? 'no answer within 4 s'
            : /wrong version number|packet length|unknown protocol|EPROTO/i.test(String((err as Error).message))
              ? 'it does not speak TLS there'
              : (err as Error).message;
    }
  }
  throw new EndpointError(
    `--endpoint ${endpoint}: no TLS handshake (${last}): nothing was changed`,
    'Check --endpoint (HOST:PORT where this tenant serves HTTPS), or pass --no-confirm to skip the live check.',
  );
}

/** Both TLS versions must serve the expected leaf; a Service may route to an old pod for a moment, so retry briefly. */
export async function confirmServed(
  endpoint: string,
  fingerprint: string,
  servername?: string,
  signal?: AbortSignal,
  deadlineMs = 10_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last = '';
  for (;;) {
    if (signal?.aborted) throw new Interrupted('interrupted by a signal');
    try {
      const seen = await Promise.all(
        (['TLSv1.2', 'TLSv1.3'] as const).map((v) =>
          fetchServedChain(endpoint, { servername, minVersion: v, maxVersion: v, timeoutMs: 3000 }),
        ),
      );
      const fps = seen.map((s) => s.chain[0]?.fingerprint256);
      if (fps.every((f) => f === fingerprint)) return;
      last = `it serves ${[...new Set(fps)].join(' / ')}`;
    } catch (err) {
      last = `TLS handshake failed: ${(err as Error).message}`;
    }
    if (Date.now() > until) throw new Error(`${endpoint} does not serve ${fingerprint}: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
