#!/usr/bin/env node
// Real ACME test servers on loopback high ports, each with its own config under --dir: Debian's
// BIND 9 (`named`: zone xsoar.test, taking TSIG-signed RFC 2136 updates of TXT records, with A
// records pointing at 127.0.0.1) and Debian's pebble (the Let's Encrypt test CA, its HTTPS
// certificate made with openssl, resolving through that BIND; NOSLEEP, no authz reuse, 20% bad
// nonces). Used by the e2e tests, the benchmarks and the README walkthrough.
//
//   node scripts/acme-servers.mjs --dir DIR [--eab KID=HMAC]... [--validity-days 47]
//
// Prints one JSON line {"ready":true,...} on stdout and stops both on SIGTERM/SIGINT.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import path from 'node:path';
import https from 'node:https';

export const ZONE = 'xsoar.test';

/**
 * A port free for TCP and UDP, below the kernel's ephemeral range (net.ipv4.ip_local_port_range,
 * 32768-60999 by default): a port handed out now and bound later (pebble's HTTP-01 port, bound by
 * each test's responder) must not meanwhile become the local port of some outgoing connection or
 * of another `listen(0)`, which draw from that range.
 */
async function freePort() {
  for (;;) {
    const candidate = 20000 + Math.floor(Math.random() * 12000);
    const port = await new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(0));
      s.listen(candidate, '127.0.0.1', () => s.close(() => resolve(candidate)));
    });
    if (!port) continue;
    // The DNS port must be free for UDP as well.
    const udpFree = await new Promise((resolve) => {
      const u = createSocket('udp4');
      u.on('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

function need(bin, pkg) {
  if (spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`]).status !== 0)
    throw new Error(`${bin} is not installed: .ci/run installs ${pkg}`);
}

/**
 * A TLS key and certificate for localhost / 127.0.0.1, and the CA that signed it (ca.pem, 2 days),
 * written into `dir` with openssl: for the test servers' own HTTPS (pebble, the hostile CA).
 * @param {string} dir @param {string} caName
 */
export function loopbackTls(dir, caName) {
  const ossl = (args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  ossl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    `/CN=${caName}`,
  ]);
  ossl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'tls.key',
    '-out',
    'tls.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(
    path.join(dir, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  ossl([
    'x509',
    '-req',
    '-in',
    'tls.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'tls.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  return { key: path.join(dir, 'tls.key'), cert: path.join(dir, 'tls.pem'), ca: path.join(dir, 'ca.pem') };
}

/** One SOA query over UDP: does the server answer for the zone yet? */
function soaAnswered(port) {
  const q = Buffer.concat([
    Buffer.from([0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...ZONE.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0, 0, 6, 0, 1]),
  ]);
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => (s.close(), resolve(false)), 300);
    s.on(
      'message',
      (m) => (clearTimeout(t), s.close(), resolve((m.readUInt16BE(2) & 0xf) === 0 && m.readUInt16BE(6) > 0)),
    );
    s.on('error', () => (clearTimeout(t), s.close(), resolve(false)));
    s.send(q, port, '127.0.0.1');
  });
}

export async function startBind(dir) {
  need('named', 'bind9');
  need('tsig-keygen', 'bind9');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const key = spawnSync('tsig-keygen', ['-a', 'hmac-sha256', 'acme-update'], { encoding: 'utf8' });
  if (key.status !== 0) throw new Error(`tsig-keygen failed: ${key.stderr}`);
  const keyFile = path.join(dir, 'acme-update.key');
  writeFileSync(keyFile, key.stdout, { mode: 0o600 });
  writeFileSync(
    path.join(dir, `${ZONE}.zone`),
    [
      '$TTL 60',
      `@ IN SOA ns1.${ZONE}. hostmaster.${ZONE}. 1 60 60 600 60`,
      `@ IN NS ns1.${ZONE}.`,
      'ns1 IN A 127.0.0.1',
      '@ IN A 127.0.0.1',
      '* IN A 127.0.0.1',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'named.conf'),
    `include "${keyFile}";
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
`,
  );
  const child = spawn('named', ['-g', '-c', path.join(dir, 'named.conf'), '-n', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` },
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  for (let i = 0; !(await soaAnswered(port)); i++) {
    if (child.exitCode !== null) throw new Error(`named exited: ${log.slice(-2000)}`);
    if (i > 100) throw new Error(`named did not answer: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, server: `127.0.0.1:${port}`, keyFile, dir, child };
}

const get = (url, ca) =>
  new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });

export async function startPebble(dir, { dnsPort, eab, validityDays = 47, nonceReject = 20 }) {
  need('pebble', 'pebble');
  mkdirSync(dir, { recursive: true });
  loopbackTls(dir, 'pebble TLS test CA');
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
      externalAccountBindingRequired: Boolean(eab),
      ...(eab ? { externalAccountMACKeys: eab } : {}),
      certificateValidityPeriod: validityDays * 86400,
    },
  };
  writeFileSync(path.join(dir, 'pebble.json'), JSON.stringify(config, null, 2));
  const child = spawn('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_AUTHZREUSE: '0',
      PEBBLE_WFE_NONCEREJECT: String(nonceReject),
    },
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const tlsCa = path.join(dir, 'ca.pem');
  const ca = readFileSync(tlsCa);
  const directory = `https://127.0.0.1:${port}/dir`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pebble exited: ${log.slice(-2000)}`);
    try {
      if ((await get(directory, ca)).status === 200) break;
    } catch {
      /* not yet */
    }
    if (i > 100) throw new Error(`pebble did not start: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const managementUrl = `https://127.0.0.1:${mgmt}`;
  return { directory, tlsCa, httpPort, managementUrl, dir, child };
}

/** Pebble's issuing root of this start, as a PEM file in its dir. */
export async function pebbleRoot(p) {
  const r = await get(`${p.managementUrl}/roots/0`, readFileSync(p.tlsCa));
  const file = path.join(p.dir, 'issuing-root.pem');
  writeFileSync(file, r.body);
  return file;
}

async function main() {
  const argv = process.argv.slice(2);
  const val = (f) => (argv.includes(f) ? argv[argv.indexOf(f) + 1] : undefined);
  const dir = val('--dir');
  if (!dir) throw new Error('usage: node scripts/acme-servers.mjs --dir DIR [--eab KID=HMAC]... [--validity-days N]');
  const eabPairs = argv.flatMap((a, i) => (a === '--eab' ? [argv[i + 1]] : []));
  const eab = eabPairs.length
    ? Object.fromEntries(eabPairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]))
    : undefined;
  const bind = await startBind(path.join(dir, 'bind'));
  const pebble = await startPebble(path.join(dir, 'pebble'), {
    dnsPort: bind.port,
    eab,
    validityDays: Number(val('--validity-days') ?? 47),
  });
  const stop = () => {
    for (const c of [pebble.child, bind.child]) c.kill('SIGTERM');
    setTimeout(() => process.exit(0), 200);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(
    JSON.stringify({
      ready: true,
      zone: ZONE,
      dns: { server: bind.server, port: bind.port, keyFile: bind.keyFile },
      pebble: {
        directory: pebble.directory,
        tlsCa: pebble.tlsCa,
        httpPort: pebble.httpPort,
        managementUrl: pebble.managementUrl,
        dir: pebble.dir,
      },
    }) + '\n',
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    process.stderr.write(`acme-servers: ${err.message}\n`);
    process.exit(1);
  });
}
