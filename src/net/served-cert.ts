// What an endpoint serves: one TLS handshake, pinned to a TLS version when asked.
import { connect, type SecureVersion } from 'node:tls';
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';

export interface Served {
  chain: X509Certificate[];
  protocol: string;
  authorized: boolean;
  authorizationError?: string;
}

export function splitEndpoint(endpoint: string, defaultPort = 443): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(endpoint) ?? /^([^:]+)(?::(\d+))?$/.exec(endpoint);
  if (!m) return { host: endpoint, port: defaultPort };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
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
    const servername = opts.servername ?? (isIP(host) ? undefined : host);
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
