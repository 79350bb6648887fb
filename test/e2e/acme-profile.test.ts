// Issue 18, item 6: ACME for short lifetimes. --acme-profile is checked against the directory's
// meta.profiles and sent in the order (pebble 2.4 has no profiles: a loopback proxy adds them and
// records the newOrder payloads); an IP-address certificate for 127.0.0.1 by HTTP-01, installed
// and served.
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { runCli } from '../helpers/run-cli.js';
import { startBind, startPebble, ZONE, type Bind, type Pebble } from '../helpers/acme-servers.js';
import { startProfileProxy, type ProfileProxy } from '../helpers/profile-proxy.js';

let sb: Sandbox;
let bind: Bind;
let pebble: Pebble;
let proxy: ProfileProxy;
beforeAll(async () => {
  [sb, bind] = await Promise.all([startSandbox({ tenants: 2, rolloutDelayMs: 20, inlinePods: true }), startBind()]);
  // No nonce rejection here: these tests are about profiles and IP identifiers, not badNonce retries.
  pebble = await startPebble({ dnsPort: bind.port, nonceReject: 0 });
  proxy = await startProfileProxy(pebble.directory, pebble.tlsCa, { classic: '90 days', shortlived: '6 days' });
}, 60000);
afterAll(async () => Promise.all([sb?.stop(), bind?.stop(), pebble?.stop(), proxy?.stop()]));

const t = () => sb.tenants[0]!;
const renew = (directory: string, ca: string, extra: string[]) =>
  runCli(
    ['renew', '--acme', directory, '--acme-ca', ca, '--acme-agree-tos', '-n', t().namespace, '--secret', t().secret]
      .concat(['--endpoint', t().endpoint, '--http-port', String(pebble.httpPort), '--force', '--allow-name-change'])
      .concat(extra),
    { env: sb.env },
  );

test('--acme-profile is checked against the directory and sent in the order', async () => {
  const host = `profile-${process.pid}.${ZONE}`;
  const extra = ['--acme-profile', 'shortlived', '--host', host, '--ca', await pebble.root()];
  const r = await renew(proxy.directory, proxy.tlsCa, extra);
  // What this test is about is the order the CA received (the proxy sees it); pebble itself has no profiles.
  expect(r.stderr).toMatch(new RegExp(`ACME order: ${host.replace(/\./g, '\\.')}`));
  expect(proxy.orders.at(-1)).toMatchObject({ profile: 'shortlived', identifiers: [{ type: 'dns', value: host }] });
}, 60000);

test('an --acme-profile the CA does not offer is exit 2 naming the ones offered, before any order', async () => {
  const before = proxy.orders.length;
  const r = await renew(proxy.directory, proxy.tlsCa, ['--acme-profile', 'tiny', '--host', `x-${process.pid}.${ZONE}`]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /--acme-profile tiny: the CA at https:\/\/127\.0\.0\.1:\d+\/dir has no such profile \(it offers classic, shortlived\)/,
  );
  expect(proxy.orders.length).toBe(before);
});

test('an IP-address certificate (RFC 8738) for 127.0.0.1 by HTTP-01: ordered as an ip identifier, installed and served', async () => {
  const r = await renew(pebble.directory, pebble.tlsCa, ['--host', '127.0.0.1', '--ca', await pebble.root()]);
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  const served = new X509Certificate((await sb.servedCert(t().endpoint)).pem);
  expect(served.checkIP('127.0.0.1')).toBe('127.0.0.1');
  expect(served.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/);
}, 60000);

test('HTTP-01 for a fleet: one responder serves every concurrent order on the one --http-port (no EADDRINUSE)', async () => {
  // Each tenant first gets its own name, so the fleet renewal places one order per tenant, at once.
  const hosts = sb.tenants.map((x, i) => `fleet${i}-${process.pid}.${ZONE}`);
  for (const [i, x] of sb.tenants.entries()) {
    const one = await runCli(
      [
        'renew',
        '--acme',
        pebble.directory,
        '--acme-ca',
        pebble.tlsCa,
        '--acme-agree-tos',
        '-n',
        x.namespace,
        '--secret',
        x.secret,
      ]
        .concat(['--http-port', String(pebble.httpPort), '--force', '--allow-name-change', '--host', hosts[i]!])
        .concat(['--ca', await pebble.root()]),
      { env: sb.env },
    );
    expect({ code: one.code, err: one.code ? one.stderr : '' }).toEqual({ code: 0, err: '' });
  }
  const file = path.join(sb.dir, 'http01-tenants.txt');
  writeFileSync(file, sb.tenants.map((x) => `${x.namespace}/${x.secret} ${x.endpoint}`).join('\n') + '\n');
  const r = await runCli(
    ['renew', '--acme', pebble.directory, '--acme-ca', pebble.tlsCa, '--tenants-file', file, '--force'].concat([
      '--http-port',
      String(pebble.httpPort),
      '--ca',
      await pebble.root(),
    ]),
    { env: sb.env },
  );
  expect({ code: r.code, err: r.code ? r.stderr + r.stdout : '' }).toEqual({ code: 0, err: '' });
  expect(r.stderr).not.toMatch(/EADDRINUSE/);
  for (const [i, x] of sb.tenants.entries()) {
    expect(new X509Certificate((await sb.servedCert(x.endpoint)).pem).checkHost(hosts[i]!)).toBe(hosts[i]);
  }
}, 120000);
