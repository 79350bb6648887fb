// What an endpoint serves: one TLS handshake, pinned to a TLS version when asked; before a change,
// the check that it serves what is installed; after it, the confirmation that it serves the new
// certificate over TLS 1.2 and 1.3.
import { connect, type SecureVersion } from 'node:tls';
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { EndpointError, Interrupted } from '../errors.js';
import { parseEndpoint, splitEndpoint } from './endpoint.js';

export interface Served {
  chain: X509Certificate[];
  protocol: string;
  authorized: boolean;
  authorizationError?: string;
}

export function fetchServedChain(
  endpoint: string,
  opts: {
    servername?: string;
    minVersion?: SecureVersion;
    maxVersion?: SecureVersion;
    timeoutMs?: number;
    ca?: string;
    ciphers?: string;
  } = {},
): Promise<Served> {
  const { host, port } = splitEndpoint(endpoint);
  return new Promise((resolve, reject) => {
    // RFC 6066 section 3: SNI carries host names only, never an IP literal.
    const name = opts.servername ?? host;
    const servername = isIP(name) ? undefined : name;
    const sock = connect({
      host,
      port,
      servername,
      rejectUnauthorized: false,
      minVersion: opts.minVersion,
      maxVersion: opts.maxVersion,
      ca: opts.ca,
      ciphers: opts.ciphers,
    });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`timed out after ${opts.timeoutMs ?? 5000} ms`), { code: 'ETIMEDOUT' }));
    }, opts.timeoutMs ?? 5000);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const chain: X509Certificate[] = [];
      let c = sock.getPeerCertificate(true);
      const seen = new Set<string>();
      while (c && c.raw && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        chain.push(new X509Certificate(c.raw));
        c = c.issuerCertificate;
      }
      const out = {
        chain,
        protocol: sock.getProtocol() ?? '',
        authorized: sock.authorized,
        authorizationError: sock.authorizationError ? String(sock.authorizationError) : undefined,
      };
      sock.destroy();
      resolve(out);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The first line of an EndpointError: what the endpoint serves instead of the installed certificate. */
function servesAnother(endpoint: string, leaf: X509Certificate | undefined, where: string, installed: string) {
  const cn = leaf ? /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1] : undefined;
  const serves = leaf ? `${leaf.fingerprint256}${cn ? ` ("${cn}")` : ''}` : 'no certificate';
  return new EndpointError(
    `--endpoint ${endpoint} serves ${serves}, not the certificate installed in ${where} (${installed}): ` +
      "it is probably another tenant's endpoint",
    'Pass the endpoint of this tenant (status shows what each serves), or --no-confirm to change the secret ' +
      'without checking the live certificate. Nothing was changed.',
  );
}

/** Why a handshake failed, in the words an operator checks --endpoint with. */
function handshakeFault(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ETIMEDOUT') return 'no answer within 4 s';
  const message = (err as Error).message;
  if (/wrong version number|packet length|unknown protocol|EPROTO/i.test(String(message))) {
    return 'it does not speak TLS there';
  }
  return message;
}

/**
 * Before anything changes: the endpoint answers TLS and serves the certificate installed now, so a
 * wrong --endpoint (a closed port, a plain-HTTP port, another tenant's port) is found before the
 * secret is replaced and the proxy restarted, not after, as a rollback. A connection fault is
 * retried twice, so one dropped connection needs no human.
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
      throw servesAnother(endpoint, leaf, where, installedFingerprint);
    } catch (err) {
      if (err instanceof EndpointError) throw err;
      last = handshakeFault(err);
    }
  }
  throw new EndpointError(
    `--endpoint ${endpoint}: no TLS handshake (${last}): nothing was changed`,
    'Check --endpoint (HOST:PORT where this tenant serves HTTPS), or pass --no-confirm to skip the live check.',
  );
}

/**
 * Both TLS versions must serve the expected leaf; a Service may route to an old pod for a moment,
 * so retry briefly.
 */
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
