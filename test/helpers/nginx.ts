// A real nginx (Debian's nginx-light) for the file target's e2e tests: its own config, pid file,
// logs and temp paths in a temp folder, listening with TLS on a loopback port, serving the two
// PEM files in DIR/tls. `ssl_ciphers DEFAULT:@SECLEVEL=3` makes nginx refuse an RSA-2048
// certificate at load ("ee key too small"): a real reload failure for the rollback case.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { fetchServedChain } from '../../src/net/served-cert.js';

export interface Nginx {
  dir: string;
  port: number;
  endpoint: string;
  cert: string;
  key: string;
  /** The --restart-cmd that reloads it. */
  reload: string;
  stop(): void;
}

/** A loopback port from 20000 to 32000, below the ephemeral range (scripts/acme-servers.mjs freePort). */
export async function freePort(): Promise<number> {
  for (;;) {
    const candidate = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(candidate, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return candidate;
  }
}

/** Start nginx serving `certPem` / `keyPem` (written to DIR/tls/cert.pem and cert.key, 0644 / 0600). */
export async function startNginx(certPem: string, keyPem: string): Promise<Nginx> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-nginx-'));
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'tls'), { mode: 0o755 });
  mkdirSync(path.join(dir, 'tmp'));
  const cert = path.join(dir, 'tls', 'cert.pem');
  const key = path.join(dir, 'tls', 'cert.key');
  writeFileSync(cert, certPem, { mode: 0o644 });
  writeFileSync(key, keyPem, { mode: 0o600 });
  const port = await freePort();
  const tmp = path.join(dir, 'tmp');
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    [
      'daemon on;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log;`,
      'worker_processes 1;',
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${tmp};`),
      '  server {',
      `    listen 127.0.0.1:${port} ssl;`,
      `    ssl_certificate ${cert};`,
      `    ssl_certificate_key ${key};`,
      '    ssl_protocols TLSv1.2 TLSv1.3;',
      '    ssl_ciphers DEFAULT:@SECLEVEL=3;',
      '    return 200 "ok\\n";',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const base = ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')];
  // Debian puts it in /usr/sbin, which a non-root PATH may lack.
  const bin = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const r = spawnSync(bin, base, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nginx did not start: ${r.stderr}`);
  const pid = Number(readFileSync(path.join(dir, 'nginx.pid'), 'utf8').trim());
  return {
    dir,
    port,
    endpoint: `127.0.0.1:${port}`,
    cert,
    key,
    reload: `${bin} ${base.join(' ')} -s reload`,
    stop() {
      // The master we started (its pid file), and only it: its workers end with it.
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    },
  };
}

/**
 * What nginx serves once a reload settled: its old workers may answer for a moment after a reload
 * (until they take the master's QUIT), so a fingerprint other than `expected` is read again for up
 * to 3 s, and the last one read is returned.
 */
export async function servedAfterReload(n: Nginx, expected?: string): Promise<string> {
  const once = async () => (await fetchServedChain(n.endpoint)).chain[0]!.fingerprint256;
  let last = await once();
  for (let i = 0; i < 30 && expected && last !== expected; i++) {
    await new Promise((r) => setTimeout(r, 100));
    last = await once();
  }
  return last;
}

/** Whether the key file holds the private key of the certificate file's first certificate. */
export function filesPairMatch(n: Nginx): boolean {
  return createPublicKey(createPrivateKey(readFileSync(n.key)))
    .export({ format: 'der', type: 'spki' })
    .equals(new X509Certificate(readFileSync(n.cert)).publicKey.export({ format: 'der', type: 'spki' }));
}
