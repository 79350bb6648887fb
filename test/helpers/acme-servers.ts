// Real servers for the ACME tests (scripts/acme-servers.mjs, shared with the benchmarks): Debian's
// BIND 9 taking TSIG-signed RFC 2136 updates, and Debian's pebble resolving through it, each on
// loopback high ports with its own config in a temp dir.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as servers from '../../scripts/acme-servers.mjs';

export const ZONE = servers.ZONE;

const stopChild = (c: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
    setTimeout(() => c.kill('SIGKILL'), 3000).unref();
  });

export interface Bind {
  port: number;
  server: string;
  keyFile: string;
  dir: string;
  /** The TXT values of `name` at this server. */
  txt(name: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startBind(): Promise<Bind> {
  const b = await servers.startBind(mkdtempSync(path.join(tmpdir(), 'xsoar-cert-bind-')));
  const { queryTxt } = await import('../../src/net/dns-update.js');
  return {
    port: b.port,
    server: b.server,
    keyFile: b.keyFile,
    dir: b.dir,
    txt: (name) => queryTxt({ host: '127.0.0.1', port: b.port }, name),
    stop: () => stopChild(b.child),
  };
}

export interface Pebble {
  directory: string;
  /** The CA certificate of pebble's own HTTPS (made with openssl): pass it as --acme-ca. */
  tlsCa: string;
  /** The port pebble validates HTTP-01 on (its httpPort). */
  httpPort: number;
  managementUrl: string;
  dir: string;
  /** Pebble's issuing root (it changes on every start), as a PEM file. */
  root(): Promise<string>;
  stop(): Promise<void>;
}

export async function startPebble(opts: {
  dnsPort: number;
  eab?: Record<string, string>;
  validityDays?: number;
  /** Percent of good nonces pebble rejects (default 20, to exercise badNonce retries). */
  nonceReject?: number;
}): Promise<Pebble> {
  const p = await servers.startPebble(mkdtempSync(path.join(tmpdir(), 'xsoar-cert-pebble-')), opts);
  return {
    directory: p.directory,
    tlsCa: p.tlsCa,
    httpPort: p.httpPort,
    managementUrl: p.managementUrl,
    dir: p.dir,
    root: () => servers.pebbleRoot(p),
    stop: () => stopChild(p.child),
  };
}
