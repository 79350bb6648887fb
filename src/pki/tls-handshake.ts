// A real TLS handshake on loopback with the files about to be installed: a server
// with the key and served chain, a client that trusts only the given root(s) and checks
// the host, once pinned to TLS 1.2 and once to TLS 1.3.
import { createServer, connect, checkServerIdentity, type TLSSocket, type SecureVersion } from 'node:tls';
import { isIP, type AddressInfo } from 'node:net';
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Check } from './types.js';

export interface HandshakeInput {
  keyPem: string;
  /** Leaf + intermediates, PEM. */
  chainPem: string;
  /** Roots to trust, PEM; undefined = Node's default (system) roots. */
  caPem?: string;
  /** The name the client asks for and checks. */
  host: string;
  timeoutMs?: number;
  /** Names the certificate in failure lines, e.g. 'leaf.pem: "tenant.example.com" (serial 0A1B)'. */
  label?: string;
  /** Copied onto every check so JSON consumers can tell which file and certificate it is about. */
  about?: Pick<Check, 'file' | 'subject' | 'serial'>;
}

/**
 * One readable line from an OpenSSL error
 * ("8040…:error:0A000410:SSL routines:fn:reason:file.c:1601:SSL alert number 40").
 */
export function cleanTlsError(message: string): string {
  const m = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):[^\s:]+:\d+:?(.*)$/s.exec(message.trim());
  const text = m ? `${m[1]}${m[2]?.trim() ? ` (${m[2].trim()})` : ''}` : message;
  return text.replace(/[\r\n]+/g, ' ').trim();
}

export async function handshakeChecks(input: HandshakeInput): Promise<Check[]> {
  const who = input.label ? `${input.label}: ` : '';
  const failBoth = (message: (v: string) => string): Check[] =>
    ['1.2', '1.3'].map((v) => ({ id: `tls.${v}`, status: 'fail' as const, message: message(v), ...input.about }));
  // OpenSSL accepts a key of another type than the certificate (it fills a different slot) and
  // only fails the handshake with a bare "handshake failure"; say what is wrong instead.
  try {
    const leafPem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(input.chainPem)?.[0];
    const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });
    if (leafPem && !spki(new X509Certificate(leafPem).publicKey).equals(spki(createPublicKey(input.keyPem)))) {
      return failBoth(
        (v) =>
          `TLS ${v}: ${who}the private key does not belong to this certificate, so no server can use them ` +
          'together: pass the key of this certificate',
      );
    }
  } catch {
    /* unreadable input: createServer below reports it */
  }
  let server;
  try {
    server = createServer(
      { key: input.keyPem, cert: input.chainPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' },
      (s) => s.end(),
    );
  } catch (err) {
    // OpenSSL's reason (e.g. "key values mismatch") says what is wrong; it never contains key bytes.
    const msg = cleanTlsError(String((err as Error).message));
    return failBoth(
      (v) => `TLS ${v}: ${who}a TLS server cannot load this key and chain (${msg}): check that --key belongs to --cert`,
    );
  }
  const srv = server;
  try {
    // A listen error (no loopback interface, sandboxed network) must end in a check, not a hang.
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        srv.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    srv.close();
    const msg = cleanTlsError(String((err as Error).message));
    return failBoth(
      (v) =>
        `TLS ${v}: could not listen on 127.0.0.1 for the loopback handshake (${msg}): ` +
        're-run with --no-tls if loopback is unavailable here',
    );
  }
  const { port } = server.address() as AddressInfo;
  try {
    return await Promise.all((['TLSv1.2', 'TLSv1.3'] as SecureVersion[]).map((v) => tryVersion(port, v, input)));
  } finally {
    server.close();
  }
}

function tryVersion(port: number, version: SecureVersion, input: HandshakeInput): Promise<Check> {
  const label = version.replace('TLSv', '');
  return new Promise((resolve) => {
    const host = input.host.replace(/^\[|\]$/g, '');
    let settled = false;
    const done = (status: Check['status'], message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ id: `tls.${label}`, status, message, ...input.about });
    };
    let sock: TLSSocket;
    try {
      sock = connect({
        host: '127.0.0.1',
        port,
        // RFC 6066 forbids IP addresses in SNI: send SNI only for DNS names, check the identity either way.
        servername: isIP(host) ? undefined : host,
        ca: input.caPem,
        minVersion: version,
        maxVersion: version,
        checkServerIdentity: (_h, cert) => checkServerIdentity(host, cert),
      });
    } catch (err) {
      resolve({
        id: `tls.${label}`,
        status: 'fail',
        message: `TLS ${label}: the client could not start (${cleanTlsError(String((err as Error).message))})`,
        ...input.about,
      });
      return;
    }
    const timer = setTimeout(
      () => done('fail', `TLS ${label}: the loopback handshake did not finish within ${input.timeoutMs ?? 5000} ms`),
      input.timeoutMs ?? 5000,
    );
    const trusting = `trusting only ${input.caPem ? 'the given root' : 'the system roots'}`;
    sock.once('secureConnect', () => {
      const cipher = sock.getCipher()?.name ?? 'cipher unknown';
      done('pass', `TLS ${label}: a client ${trusting} completed a handshake for ${host} (${cipher})`);
    });
    const who = input.label ? `${input.label}: ` : '';
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const reason = `${cleanTlsError(String(err.message))}${err.code ? ` (${err.code})` : ''}`;
      done(
        'fail',
        `TLS ${label}: ${who}a client for ${host} ${trusting} refused the handshake: ${reason}; ` +
          'fix the failures above, then verify again',
      );
    });
  });
}
