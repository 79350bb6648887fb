// renew --acme against real servers on loopback: Debian's pebble (the Let's Encrypt test CA,
// NOSLEEP, no authz reuse, 20% bad nonces) resolving through Debian's BIND 9, which takes
// TSIG-signed RFC 2136 updates; the sandbox cluster with the real kubectl for the install.
import { mkdtempSync, statSync, writeFileSync, readdirSync, readFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { runCli } from '../helpers/run-cli.js';
import { startBind, startPebble, ZONE, type Bind, type Pebble } from '../helpers/acme-servers.js';

/** A host under the test zone, unique to this test run and test. */
const uniqueHost = (tag: string) => `${tag}-${process.pid}-${Date.now().toString(36)}.${ZONE}`;
let sb: Sandbox;
let bind: Bind;
let pebble: Pebble;
beforeAll(async () => {
  [sb, bind] = await Promise.all([startSandbox({ tenants: 3, rolloutDelayMs: 50, inlinePods: true }), startBind()]);
  pebble = await startPebble({ dnsPort: bind.port });
}, 60000);
afterAll(async () => {
  await Promise.all([sb?.stop(), bind?.stop(), pebble?.stop()]);
});

const t = (i = 0) => sb.tenants[i]!;
const acme = (p: Pebble, extra: string[], env: NodeJS.ProcessEnv = {}, i = 0) =>
  runCli(
    [
      'renew',
      '--acme',
      p.directory,
      '--acme-ca',
      p.tlsCa,
      '-n',
      t(i).namespace,
      '--secret',
      t(i).secret,
      '--endpoint',
      t(i).endpoint,
      '--timeout',
      '20',
      ...extra,
    ],
    { env: { ...sb.env, ...env } },
  );
const rfc2136 = () => ['--dns-rfc2136', bind.server, '--dns-tsig-key', bind.keyFile];

/** The served chain verifies with openssl against pebble's issuing root of this start. */
async function servedVerifies(p: Pebble, endpoint: string, names: string[]): Promise<X509Certificate> {
  const served = await sb.servedCert(endpoint);
  const leaf = new X509Certificate(served.pem);
  for (const n of names) expect(leaf.checkHost(n.replace(/^\*\./, 'x.'))).toBeTruthy();
  const data = await sb.secretData(t().namespace, t().secret);
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-acme-v-'));
  const pems = Buffer.from(data!['tls.crt']!, 'base64')
    .toString()
    .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!;
  writeFileSync(path.join(dir, 'leaf.pem'), pems[0]!);
  writeFileSync(path.join(dir, 'chain.pem'), pems.slice(1).join('\n'));
  const v = spawnSync(
    'openssl',
    ['verify', '-CAfile', await p.root(), '-untrusted', path.join(dir, 'chain.pem'), path.join(dir, 'leaf.pem')],
    { encoding: 'utf8' },
  );
  expect(v.stdout + v.stderr).toMatch(/leaf\.pem: OK/);
  return leaf;
}

async function zoneClean(names: string[]): Promise<void> {
  for (const n of names) expect(await bind.txt(`_acme-challenge.${n.replace(/^\*\./, '')}`)).toEqual([]);
}

test("DNS-01 by RFC 2136: a name, a wildcard and its apex in one order; served, verified to pebble's root, zone clean, account kept 0600", async () => {
  const tenant1 = uniqueHost('t1'); // a name no other test orders: pebble never hands back another test's authorization
  const names = [tenant1, `*.apps.${ZONE}`, `apps.${ZONE}`];
  const r = await acme(pebble, [
    ...rfc2136(),
    '--acme-email',
    'admin@example.com',
    '--acme-agree-tos',
    '--force',
    '--ca',
    await pebble.root(),
    ...names.flatMap((n) => ['--host', n]),
    '--allow-name-change',
  ]);
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  const leaf = await servedVerifies(pebble, t().endpoint, names);
  expect((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86400_000).toBeCloseTo(47, 0);
  await zoneClean(names);
  const accounts = path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'acme');
  const files = readdirSync(accounts);
  expect(files.filter((f) => f.endsWith('.key'))).toHaveLength(1);
  for (const f of files) expect(statSync(path.join(accounts, f)).mode & 0o077).toBe(0);
  const key = readFileSync(
    path.join(
      accounts,
      files.find((f) => f.endsWith('.key'))!,
    ),
    'utf8',
  );
  expect(r.stdout + r.stderr).not.toContain(key.split('\n')[1]!);
  // The second run is not due (47 days, renewed in the last third): no order, nothing changes.
  const again = await acme(pebble, [...rfc2136(), ...names.flatMap((n) => ['--host', n])]);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/not due|nothing to do/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(leaf.fingerprint256);
  // A new key every time: a forced renewal serves a certificate with another public key.
  const forced = await acme(pebble, [
    ...rfc2136(),
    '--force',
    '--ca',
    await pebble.root(),
    ...names.flatMap((n) => ['--host', n]),
  ]);
  expect({ code: forced.code, err: forced.code ? forced.stderr : '' }).toEqual({ code: 0, err: '' });
  const next = new X509Certificate((await sb.servedCert(t().endpoint)).pem);
  expect(
    next.publicKey
      .export({ type: 'spki', format: 'der' })
      .equals(leaf.publicKey.export({ type: 'spki', format: 'der' })),
  ).toBe(false);
  const audit = JSON.parse((await runCli(['audit', '--json'], { env: sb.env })).stdout);
  expect(
    audit.filter((a: { op: string; result: string }) => a.op === 'renew' && a.result === 'installed').length,
  ).toBeGreaterThanOrEqual(2);
}, 120000);

test('DNS-01 by hook (nsupdate): published, validated, removed; a hook that publishes the wrong value is refused with exit 9, nothing changed, record removed', async () => {
  const tenant1 = uniqueHost('t2'); // a name no other test orders: pebble never hands back another test's authorization
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-hook-'));
  const hook = path.join(dir, 'hook.sh');
  const log = path.join(dir, 'hook.log');
  writeFileSync(
    hook,
    `#!/bin/sh
set -e
echo "$1 $XSOAR_CERT_DNS_NAME" >> ${log}
value="$XSOAR_CERT_DNS_VALUE"
[ -n "$WRONG" ] && value="not-the-value"
if [ "$1" = add ]; then op=add; ttl=60; else op=delete; ttl=""; fi
printf 'server 127.0.0.1 ${bind.port}\\nzone ${ZONE}\\nupdate %s %s. %s TXT "%s"\\nsend\\n' "$op" "$XSOAR_CERT_DNS_NAME" "$ttl" "$value" | nsupdate -k ${bind.keyFile}
`,
  );
  chmodSync(hook, 0o755);
  const names = [tenant1];
  const before = await sb.secretData(t().namespace, t().secret);
  const bad = await acme(
    pebble,
    [
      '--dns-hook',
      hook,
      '--dns-check',
      bind.server,
      '--dns-wait',
      '2',
      '--force',
      '--ca',
      await pebble.root(),
      '--host',
      names[0]!,
      '--allow-name-change',
    ],
    { WRONG: '1' },
  );
  expect(bad.code).toBe(9);
  expect(bad.stderr).toMatch(
    new RegExp(`_acme-challenge\\.${tenant1.replace(/\./g, '\\.')} does not hold the challenge value`),
  );
  expect(bad.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(before);
  expect(readFileSync(log, 'utf8')).toMatch(
    new RegExp(
      `add _acme-challenge\\.${tenant1.replace(/\./g, '\\.')}\nremove _acme-challenge\\.${tenant1.replace(/\./g, '\\.')}`,
    ),
  );
  await zoneClean(names);
  const good = await acme(pebble, [
    '--dns-hook',
    hook,
    '--dns-check',
    bind.server,
    '--force',
    '--ca',
    await pebble.root(),
    '--host',
    names[0]!,
    '--allow-name-change',
  ]);
  expect({ code: good.code, err: good.code ? good.stderr : '' }).toEqual({ code: 0, err: '' });
  await servedVerifies(pebble, t().endpoint, names);
  await zoneClean(names);
}, 120000);

test('HTTP-01 with the standalone responder on the port pebble validates', async () => {
  const tenant1 = uniqueHost('t3'); // a name no other test orders: pebble never hands back another test's authorization
  const names = [tenant1];
  const r = await acme(pebble, [
    '--http-port',
    String(pebble.httpPort),
    '--force',
    '--ca',
    await pebble.root(),
    '--host',
    names[0]!,
    '--allow-name-change',
  ]);
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  await servedVerifies(pebble, t().endpoint, names);
}, 120000);

test('three tenants with the same names: one ACME order, then the batched install', async () => {
  const file = path.join(sb.dir, 'acme-tenants.txt');
  writeFileSync(file, sb.tenants.map((x) => `${x.namespace}/${x.secret} ${x.endpoint}`).join('\n') + '\n');
  const names = [`tenant.${ZONE}`];
  const r = await runCli(
    [
      'renew',
      '--acme',
      pebble.directory,
      '--acme-ca',
      pebble.tlsCa,
      ...rfc2136(),
      '--tenants-file',
      file,
      '--force',
      '--ca',
      await pebble.root(),
      '--host',
      names[0]!,
      '--allow-name-change',
      '--timeout',
      '20',
      '--json',
    ],
    { env: sb.env },
  );
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  const served = await Promise.all(sb.tenants.map((x) => sb.servedCert(x.endpoint)));
  expect(new Set(served.map((s) => s.sha256)).size).toBe(1); // one certificate: one order
  expect(new X509Certificate(served[0]!.pem).checkHost(names[0]!)).toBeTruthy();
  await zoneClean(names);
}, 120000);

test('CA-side failures change nothing and exit 9 with one line: untrusted TLS, unreachable directory, a refused identifier', async () => {
  const tenant1 = uniqueHost('t5'); // a name no other test orders: pebble never hands back another test's authorization
  const before = await sb.secretData(t().namespace, t().secret);
  const untrusted = await runCli(
    [
      'renew',
      '--acme',
      pebble.directory,
      ...rfc2136(),
      '-n',
      t().namespace,
      '--secret',
      t().secret,
      '--force',
      '--host',
      tenant1,
      '--allow-name-change',
    ],
    { env: sb.env },
  );
  expect(untrusted.code).toBe(9);
  expect(untrusted.stderr).toMatch(/cannot reach the ACME directory .*TLS certificate is not trusted.*\n.*--acme-ca/);
  const unreachable = await runCli(
    [
      'renew',
      '--acme',
      'https://127.0.0.1:1/dir',
      ...rfc2136(),
      '-n',
      t().namespace,
      '--secret',
      t().secret,
      '--force',
      '--host',
      tenant1,
      '--allow-name-change',
    ],
    { env: sb.env },
  );
  expect(unreachable.code).toBe(9);
  expect(unreachable.stderr).toMatch(
    /cannot reach the ACME directory https:\/\/127\.0\.0\.1:1\/dir: connection refused/,
  );
  // A name outside the zone the key may update: BIND refuses the update (NOTAUTH/REFUSED), exit 9.
  const refused = await acme(pebble, [
    ...rfc2136(),
    '--acme-agree-tos',
    '--force',
    '--host',
    'elsewhere.example',
    '--dns-zone',
    'example',
    '--allow-name-change',
  ]);
  expect(refused.code).toBe(9);
  expect(refused.stderr).toMatch(/DNS-01: the DNS server .* answered (NOTAUTH|REFUSED|NOTZONE)/);
  // The CA itself refuses the challenge (its validation reaches nobody on the port it checks): exit 9, once.
  const { createServer } = await import('node:net');
  const otherPort = await new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
  const challenge = await acme(pebble, [
    '--http-port',
    String(otherPort),
    '--acme-agree-tos',
    '--force',
    '--host',
    tenant1,
    '--allow-name-change',
  ]);
  expect(challenge.code).toBe(9);
  expect(challenge.stderr).toMatch(/the CA refused a challenge: .*nothing was changed/);
  for (const r of [untrusted, unreachable, refused, challenge]) expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(before);
}, 60000);

test('External Account Binding: missing (exit 2), wrong HMAC (exit 9), right (installed)', async () => {
  const tenant1 = uniqueHost('t6'); // a name no other test orders: pebble never hands back another test's authorization
  const hmac = Buffer.alloc(32, 7).toString('base64url');
  const eab = await startPebble({ dnsPort: bind.port, eab: { 'kid-1': hmac } });
  try {
    const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-eab-'));
    const env = { XSOAR_CERT_STATE_DIR: state };
    const base = [
      ...rfc2136(),
      '--acme-agree-tos',
      '--force',
      '--ca',
      await eab.root(),
      '--host',
      tenant1,
      '--allow-name-change',
    ];
    const missing = await acme(eab, base, env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/requires External Account Binding.*\n.*--acme-eab-kid/);
    const wrongFile = path.join(state, 'wrong.hmac');
    writeFileSync(wrongFile, Buffer.alloc(32, 9).toString('base64url'), { mode: 0o600 });
    const wrong = await acme(eab, [...base, '--acme-eab-kid', 'kid-1', '--acme-eab-hmac-file', wrongFile], env);
    expect(wrong.code).toBe(9);
    expect(wrong.stderr).toMatch(/the CA refused the account: .*/);
    const right = await acme(eab, [...base, '--acme-eab-kid', 'kid-1'], { ...env, XSOAR_CERT_ACME_EAB_HMAC: hmac });
    expect({ code: right.code, err: right.code ? right.stderr : '' }).toEqual({ code: 0, err: '' });
    await servedVerifies(eab, t().endpoint, [tenant1]);
  } finally {
    await eab.stop();
  }
}, 120000);

test('Ctrl-C while the challenge is being checked: the records are removed, nothing changed, exit 130', async () => {
  const tenant1 = uniqueHost('t7'); // a name no other test orders: pebble never hands back another test's authorization
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/run-cli.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-hook-int-'));
  const hook = path.join(dir, 'hook.sh');
  const log = path.join(dir, 'hook.log');
  // Publishes a value the CA would not accept, so the run waits in the authoritative check.
  writeFileSync(
    hook,
    `#!/bin/sh
echo "$1 $XSOAR_CERT_DNS_NAME" >> ${log}
if [ "$1" = add ]; then op="add $XSOAR_CERT_DNS_NAME. 60"; else op="delete $XSOAR_CERT_DNS_NAME."; fi
printf 'server 127.0.0.1 ${bind.port}\\nzone ${ZONE}\\nupdate %s TXT "%s"\\nsend\\n' "$op" "not-yet" | nsupdate -k ${bind.keyFile}
`,
  );
  chmodSync(hook, 0o755);
  const before = await sb.secretData(t().namespace, t().secret);
  const child = spawn(
    process.execPath,
    [
      BIN,
      'renew',
      '--acme',
      pebble.directory,
      '--acme-ca',
      pebble.tlsCa,
      '--dns-hook',
      hook,
      '--dns-check',
      bind.server,
      '--dns-wait',
      '60',
      '--acme-agree-tos',
      '--force',
      '--host',
      tenant1,
      '--allow-name-change',
      '-n',
      t().namespace,
      '--secret',
      t().secret,
    ],
    { env: { ...sb.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const done = new Promise<number>((r) => child.on('close', (code) => ((exited = true), r(code ?? -1))));
  let code: number;
  try {
    while (!/published TXT/.test(stderr) && !exited) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(/published TXT/);
    expect(await bind.txt(`_acme-challenge.${tenant1}`)).toEqual(['not-yet']);
    child.kill('SIGINT');
    code = await Promise.race([done, new Promise<number>((r) => setTimeout(() => r(-2), 20_000))]);
  } finally {
    if (!exited) child.kill('SIGKILL'); // never leave a run holding the tenant for the tests after this one
  }
  expect(code).toBe(130);
  expect(stderr).toMatch(/SIGINT: stopping and removing the challenge responses/);
  expect(stderr).toMatch(/Cancelled .*nothing was changed/);
  expect(readFileSync(log, 'utf8')).toMatch(new RegExp(`remove _acme-challenge\\.${tenant1.replace(/\./g, '\\.')}`));
  await zoneClean([tenant1]);
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(before);
}, 60000);

test('the settings file carries the ACME settings (the cron line stays short); --print-cron repeats the flags, never the EAB key', async () => {
  const tenant1 = uniqueHost('t8'); // a name no other test orders: pebble never hands back another test's authorization
  const cfg = path.join(sb.dir, 'acme-config.json');
  // Its own state dir: the failures earlier tests provoke on this tenant start a backoff (issue 18) it would respect.
  const env = { ...sb.env, XSOAR_CERT_STATE_DIR: mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-')) };
  writeFileSync(
    cfg,
    JSON.stringify({
      namespace: t().namespace,
      secret: t().secret,
      endpoint: t().endpoint,
      acme: {
        directory: pebble.directory,
        acmeCa: pebble.tlsCa,
        agreeTos: true,
        dnsRfc2136: bind.server,
        dnsTsigKey: bind.keyFile,
      },
    }),
  );
  const before = await sb.servedCert(t().endpoint);
  const r = await runCli(['renew', '--config', cfg], { env });
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  expect(r.stdout).toMatch(/nothing to do: .*expires in \d+ days/); // the settings name a source (else: renew needs --acme ...), and it is not due
  // The names are checked before anything is ordered.
  const narrower = await runCli(
    ['renew', '--config', cfg, '--force', '--ca', await pebble.root(), '--host', `other.${ZONE}`],
    { env },
  );
  expect(narrower.stderr).toMatch(
    /the ACME order for other\.xsoar\.test would not cover .*Nothing was ordered or changed/s,
  );
  expect(narrower.stderr).not.toMatch(/ACME order:/);
  const forced = await runCli(
    ['renew', '--config', cfg, '--force', '--ca', await pebble.root(), '--host', tenant1, '--allow-name-change'],
    { env },
  );
  expect({ code: forced.code, err: forced.code ? forced.stderr : '' }).toEqual({ code: 0, err: '' });
  expect((await sb.servedCert(t().endpoint)).sha256).not.toBe(before.sha256);
  const hmacFile = path.join(sb.dir, 'eab.hmac');
  writeFileSync(hmacFile, 'c2VjcmV0LWhtYWMta2V5LXZhbHVl', { mode: 0o600 });
  const cron = await runCli(
    [
      'renew',
      '--acme',
      pebble.directory,
      '--acme-ca',
      pebble.tlsCa,
      ...rfc2136(),
      '--acme-eab-kid',
      'kid-1',
      '--acme-eab-hmac-file',
      hmacFile,
      '-n',
      t().namespace,
      '--print-cron',
    ],
    { env },
  );
  expect(cron.code).toBe(0);
  expect(cron.stdout).toContain(`--acme ${pebble.directory}`);
  expect(cron.stdout).toContain(`--dns-rfc2136 ${bind.server} --dns-tsig-key ${bind.keyFile}`);
  expect(cron.stdout).toContain(`--acme-eab-hmac-file ${hmacFile}`);
  expect(cron.stdout).not.toContain('c2VjcmV0LWhtYWMta2V5LXZhbHVl');
  expect(cron.stdout).not.toContain('--self-signed');
}, 120000);

test('HTTP-01 by --webroot (a web server serves the folder), and --reuse-key keeps the installed key', async () => {
  const tenant1 = uniqueHost('t9'); // a name no other test orders: pebble never hands back another test's authorization
  const http = await import('node:http');
  const root = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-webroot-'));
  // The web server the admin already has: it serves the webroot on the port pebble validates.
  const server = http.createServer((req, res) => {
    try {
      const body = readFileSync(
        path.join(root, path.normalize(decodeURIComponent(req.url ?? '/')).replace(/^(\.\.[/\\])+/, '')),
      );
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(pebble.httpPort, '127.0.0.1', () => r()));
  try {
    const names = [tenant1];
    const r = await acme(pebble, [
      '--webroot',
      root,
      '--acme-agree-tos',
      '--force',
      '--ca',
      await pebble.root(),
      '--host',
      names[0]!,
      '--allow-name-change',
    ]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    const first = await servedVerifies(pebble, t().endpoint, names);
    expect(readdirSync(path.join(root, '.well-known', 'acme-challenge'))).toEqual([]); // cleaned up
    const reused = await acme(pebble, [
      '--webroot',
      root,
      '--reuse-key',
      '--force',
      '--ca',
      await pebble.root(),
      '--host',
      names[0]!,
    ]);
    expect({ code: reused.code, err: reused.code ? reused.stderr : '' }).toEqual({ code: 0, err: '' });
    const second = new X509Certificate((await sb.servedCert(t().endpoint)).pem);
    expect(second.fingerprint256).not.toBe(first.fingerprint256);
    expect(
      second.publicKey
        .export({ type: 'spki', format: 'der' })
        .equals(first.publicKey.export({ type: 'spki', format: 'der' })),
    ).toBe(true);
  } finally {
    server.close();
  }
}, 120000);

test('a rate-limited CA: a short Retry-After is waited for and retried; a long one ends the run at once (exit 9), nothing changed', async () => {
  const tenant1 = uniqueHost('t10'); // a name no other test orders: pebble never hands back another test's authorization
  const https = await import('node:https');
  const { generateDevCA, generateDevLeaf } = await import('../../src/pki/generate.js');
  const ca = await generateDevCA({});
  const leaf = await generateDevLeaf({ hosts: ['127.0.0.1'], issuer: ca });
  const caFile = path.join(sb.dir, 'ratelimit-ca.pem');
  writeFileSync(caFile, ca.certPem);
  // A CA that answers every new account with 429: first with Retry-After 1, then with `after`.
  let after = '1';
  const seen: string[] = [];
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    seen.push(`${req.method} ${req.url}`);
    res.setHeader('Replay-Nonce', `n${seen.length}`);
    if (req.url === '/dir')
      return res.end(
        JSON.stringify({
          newNonce: `${base}/nonce`,
          newAccount: `${base}/account`,
          newOrder: `${base}/order`,
          revokeCert: `${base}/revoke`,
          keyChange: `${base}/key`,
        }),
      );
    if (req.url === '/nonce') return res.writeHead(200).end();
    req.resume();
    req.on('end', () => {
      const first = seen.filter((x) => x === 'POST /account').length === 1;
      res
        .writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': first ? '1' : after })
        .end(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new accounts' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const dirUrl = `https://127.0.0.1:${(server.address() as { port: number }).port}/dir`;
  try {
    const before = await sb.secretData(t().namespace, t().secret);
    const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-ratelimit-'));
    after = '3600';
    const started = Date.now();
    const r = await runCli(
      [
        'renew',
        '--acme',
        dirUrl,
        '--acme-ca',
        caFile,
        '--acme-agree-tos',
        ...rfc2136(),
        '--force',
        '--host',
        tenant1,
        '--allow-name-change',
        '-n',
        t().namespace,
        '--secret',
        t().secret,
      ],
      { env: { ...sb.env, XSOAR_CERT_STATE_DIR: state } },
    );
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(
      /the CA is rate limiting \(HTTP 429\) and asks to retry after 3600 s: nothing was changed/,
    );
    expect(seen.filter((x) => x === 'POST /account')).toHaveLength(2); // the 1 s wait was honoured once, then the long one ended it
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await sb.secretData(t().namespace, t().secret)).toEqual(before);
  } finally {
    server.close();
  }
}, 60000);
