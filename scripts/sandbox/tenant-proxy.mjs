#!/usr/bin/env node
// The sandbox's tenant "pod": an HTTPS server that loads tls.crt/tls.key from
// its secret-volume directory ONCE, at start, exactly like a real proxy
// container does (a secret change alone does not change what it serves; only
// a restart does). Key material is read from files the cluster wrote with mode
// 0600, never from argv or the environment.
//
// Run as a child process:  node tenant-proxy.mjs --dir DIR --name POD
//   prints {"ready":true,"port":N,"pid":N} on stdout when listening, exits 1
//   with one line on stderr when the certificate or key cannot be used, and
//   exits when its stdin closes (so it never outlives the cluster).
// Or in-process (--inline-pods): await startTenantProxy({ dir, name, env, files }), where files
//   holds the secret volume's contents in memory (read once, here, like the files would be).
import tls from 'node:tls';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSIONS = new Set(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

/**
 * Start one pod's HTTPS server on 127.0.0.1 (ephemeral port): any path → 200 "ok <pod>".
 * @param {{ dir: string, name: string, env?: Record<string, string | undefined>, files?: Record<string, Buffer> }} opts
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export async function startTenantProxy({ dir, name, env = {}, files }) {
  const cert = readVolumeFile(dir, 'tls.crt', files);
  const key = readVolumeFile(dir, 'tls.key', files);
  /** @type {import('node:tls').TlsOptions} */
  const options = { cert, key };
  // Node's defaults are min TLSv1.2 / max TLSv1.3; the container env narrows them.
  const min = env.TLS_MIN_VERSION;
  const max = env.TLS_MAX_VERSION;
  if (min) {
    if (!VERSIONS.has(min)) throw new Error(`TLS_MIN_VERSION ${min} is not one of ${[...VERSIONS].join(', ')}`);
    options.minVersion = /** @type {import('node:tls').SecureVersion} */ (min);
  }
  if (max) {
    if (!VERSIONS.has(max)) throw new Error(`TLS_MAX_VERSION ${max} is not one of ${[...VERSIONS].join(', ')}`);
    options.maxVersion = /** @type {import('node:tls').SecureVersion} */ (max);
  }
  // createServer builds the secure context, which checks that the key matches
  // the certificate: a mismatched pair fails here, like a proxy that will not start.
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n') && buf.length < 65536) return;
      const body = `ok ${name}\n`;
      socket.end(
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
  });
  server.on('tlsClientError', () => {});
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(undefined));
  });
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    port: addr.port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve(undefined));
      }),
  };
}

/**
 * One key of the secret volume: from memory when given, else from its file. A key the
 * secret lacks fails as the missing file would.
 * @param {string} dir @param {string} file @param {Record<string, Buffer>} [files]
 */
function readVolumeFile(dir, file, files) {
  if (!files) return fs.readFileSync(path.join(dir, file));
  const data = Object.hasOwn(files, file) ? files[file] : undefined;
  if (data) return data;
  const err = new Error(`ENOENT: no such file or directory, open '${path.join(dir, file)}'`);
  throw Object.assign(err, { code: 'ENOENT', syscall: 'open', path: path.join(dir, file) });
}

/** @param {string} flag */
function argValue(flag) {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = argValue('--dir');
  const name = argValue('--name') ?? 'pod';
  if (!dir) {
    process.stderr.write('tenant-proxy: --dir DIR is required\n');
    process.exit(2);
  }
  try {
    const pod = await startTenantProxy({ dir, name, env: process.env });
    process.stdout.write(JSON.stringify({ ready: true, port: pod.port, pid: process.pid }) + '\n');
    // The cluster holds our stdin; when it goes away, so do we.
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
    process.on('SIGTERM', () => process.exit(0));
  } catch (err) {
    process.stderr.write(`tenant-proxy ${name}: cannot serve: ${/** @type {Error} */ (err).message}\n`);
    process.exit(1);
  }
}
