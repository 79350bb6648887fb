#!/usr/bin/env node
// A tenant "pod": an HTTPS server that loads tls.crt/tls.key from its mounted secret folder
// once, at start (as a real proxy does), and reports readiness on stdout. Key material
// only ever comes from files (mode 0600), never argv or env.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import path from 'node:path';

export function startTenantProxy({ dir, name, env = process.env, host = '127.0.0.1' }) {
  return new Promise((resolve, reject) => {
    let server;
    try {
      server = createServer(
        {
          cert: readFileSync(path.join(dir, 'tls.crt')),
          key: readFileSync(path.join(dir, 'tls.key')),
          minVersion: env.TLS_MIN_VERSION || 'TLSv1.2',
          maxVersion: env.TLS_MAX_VERSION || 'TLSv1.3',
        },
        (req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`ok ${name}\n`);
        },
      );
    } catch (err) {
      reject(err);
      return;
    }
    server.on('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const dirIdx = process.argv.indexOf('--dir');
  const nameIdx = process.argv.indexOf('--name');
  const dir = process.argv[dirIdx + 1];
  const name = process.argv[nameIdx + 1] ?? 'pod';
  startTenantProxy({ dir, name }).then(
    (server) => {
      process.stdout.write(`READY ${server.address().port}\n`);
      const stop = () => server.close(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err) => {
      process.stderr.write(`tenant-proxy ${name}: cannot start: ${String(err.message).split('\n')[0]}\n`);
      process.exit(1);
    },
  );
}
