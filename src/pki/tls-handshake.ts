// A real TLS handshake on loopback with the files about to be installed: a server
// with the key and served chain, a client that trusts only the given root(s) and checks
// the host, once pinned to TLS 1.2 and once to TLS 1.3.
import { createServer, connect, checkServerIdentity, type TLSSocket, type SecureVersion } from 'node:tls';
import { isIP, type AddressInfo } from 'node:net';
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
}

export async function handshakeChecks(input: HandshakeInput): Promise<Check[]> {
  let server;
  try {
    server = createServer({ key: input.keyPem, cert: input.chainPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' }, (s) => s.end());
  } catch (err) {
    const msg = String((err as Error).message).replace(/[\r\n]+/g, ' ');
    return ['1.2', '1.3'].map((v) => ({ id: `tls.${v}`, status: 'fail' as const, message: `TLS ${v}: a TLS server cannot load this key and chain (${msg})` }));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
      resolve({ id: `tls.${label}`, status, message });
    };
    const sock: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      // RFC 6066 forbids IP addresses in SNI: send SNI only for DNS names, check the identity either way.
      servername: isIP(host) ? undefined : host,
      ca: input.caPem,
      minVersion: version,
      maxVersion: version,
      checkServerIdentity: (_h, cert) => checkServerIdentity(host, cert),
    });
    const timer = setTimeout(() => done('fail', `TLS ${label}: the loopback handshake timed out`), input.timeoutMs ?? 5000);
    sock.once('secureConnect', () => done('pass', `TLS ${label}: a client trusting only the given root completed a handshake for ${host} (${sock.getCipher()?.name ?? 'cipher unknown'})`));
    sock.once('error', (err: NodeJS.ErrnoException) => done('fail', `TLS ${label}: a client for ${host} refused the handshake: ${String(err.message).replace(/[\r\n]+/g, ' ')}${err.code ? ` (${err.code})` : ''}`));
  });
}
