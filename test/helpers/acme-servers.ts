// Real servers for the ACME tests, on loopback high ports, with their own config in a temp dir:
// Debian's BIND 9 (`named`, a zone that takes TSIG-signed RFC 2136 updates of TXT records) and
// Debian's pebble (the Let's Encrypt test CA), which resolves through that BIND.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';

export const ZONE = 'xsoar.test';

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
      s.on('error', reject);
    });
    // The DNS port must be free for UDP as well.
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.on('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

function need(bin: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed: .ci/run installs ${pkg}`);
}

export interface Bind {
  port: number;
  server: string;
  keyFile: string;
  dir: string;
  txt(name: string): Promise<string[]>;
  stop(): Promise<void>;
}

const stopChild = (c: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
    setTimeout(() => c.kill('SIGKILL'), 3000).unref();
  });

export async function startBind(): Promise<Bind> {
  need('named', 'bind9');
  need('tsig-keygen', 'bind9-utils');
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-bind-'));
  const port = await freePort();
  const key = spawnSync('tsig-keygen', ['-a', 'hmac-sha256', 'acme-update'], { encoding: 'utf8' });
  if (key.status !== 0) throw new Error(`tsig-keygen failed: ${key.stderr}`);
  const keyFile = path.join(dir, 'acme-update.key');
  writeFileSync(keyFile, key.stdout, { mode: 0o600 });
  writeFileSync(path.join(dir, `${ZONE}.zone`), [
    '$TTL 60',
    `@ IN SOA ns1.${ZONE}. hostmaster.${ZONE}. 1 60 60 600 60`,
    `@ IN NS ns1.${ZONE}.`,
    'ns1 IN A 127.0.0.1',
    '@ IN A 127.0.0.1',
    '* IN A 127.0.0.1',
    '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'named.conf'), `
include "${keyFile}";
options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
zone "${ZONE}" {
  type primary;
  file "${dir}/${ZONE}.zone";
  update-policy { grant acme-update zonesub TXT; };
};
`);
  const child = spawn('named', ['-g', '-c', path.join(dir, 'named.conf'), '-n', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const server = `127.0.0.1:${port}`;
  const { queryTxt, findZone } = await import('../../src/net/dns-update.js');
  const dns = { host: '127.0.0.1', port };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`named exited: ${log.slice(-2000)}`);
    try {
      await findZone(dns, `ns1.${ZONE}`, 300);
      break;
    } catch {
      if (i > 100) throw new Error(`named did not answer: ${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, server, keyFile, dir, txt: (name) => queryTxt(dns, name), stop: () => stopChild(child) };
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

export async function startPebble(opts: { dnsPort: number; eab?: Record<string, string>; validityDays?: number }): Promise<Pebble> {
  need('pebble', 'pebble');
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-pebble-'));
  const ossl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pebble TLS test CA']);
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=localhost']);
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ossl(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.pem', '-days', '2', '-extfile', 'ext.cnf']);
  const [port, mgmt, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: path.join(dir, 'tls.pem'),
      privateKey: path.join(dir, 'tls.key'),
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: Boolean(opts.eab),
      ...(opts.eab ? { externalAccountMACKeys: opts.eab } : {}),
      certificateValidityPeriod: (opts.validityDays ?? 47) * 86400,
    },
  };
  writeFileSync(path.join(dir, 'pebble.json'), JSON.stringify(config, null, 2));
  const child = spawn('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${opts.dnsPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0', PEBBLE_WFE_NONCEREJECT: '20' },
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const tlsCa = path.join(dir, 'ca.pem');
  const ca = readFileSync(tlsCa);
  const get = (url: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      https.get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
  const directory = `https://127.0.0.1:${port}/dir`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pebble exited: ${log.slice(-2000)}`);
    try {
      if ((await get(directory)).status === 200) break;
    } catch { /* not yet */ }
    if (i > 100) throw new Error(`pebble did not start: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const managementUrl = `https://127.0.0.1:${mgmt}`;
  return {
    directory,
    tlsCa,
    httpPort,
    managementUrl,
    dir,
    async root() {
      const r = await get(`${managementUrl}/roots/0`);
      const file = path.join(dir, 'issuing-root.pem');
      writeFileSync(file, r.body);
      return file;
    },
    stop: () => stopChild(child),
  };
}
