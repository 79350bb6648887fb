// Five admins (five state dirs, so no shared local lock) install at once, ten rounds: the lock on
// the secret (cluster-lock.ts) serializes them. Every run ends installed (0) or busy (7: the lock
// is held, or the secret changed under it); whatever the secret holds is what the endpoint serves,
// and it is the certificate of the last run that reported it installed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
let certs: MintedChain[];
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 150 });
  certs = await Promise.all(
    [0, 1, 2, 3, 4].map(() => mintChain({ intermediates: 0, hosts: ['localhost', '127.0.0.1'] })),
  );
}, 120000);
afterAll(async () => sb?.stop());

/** install m (no --chain: the chains have no intermediates) on the first tenant, --yes --timeout 30. */
const adminArgs = (m: MintedChain) =>
  installArgs(m, [...targetArgs(sb.tenants[0]!), '--yes', '--allow-name-change', '--timeout', '30'], { chain: false });

test('5 concurrent installs with 5 state dirs, 10 rounds: the in-cluster lock serializes them; the secret, the endpoint and the exit codes agree', async () => {
  const t = sb.tenants[0]!;
  for (let round = 0; round < 10; round++) {
    const dirs = certs.map(() => mkdtempSync(path.join(tmpdir(), 'xsoar-cert-admin-')));
    const runs = await Promise.all(
      certs.map((m, i) =>
        runCli(adminArgs(m), {
          env: { ...sb.env, XSOAR_CERT_STATE_DIR: dirs[i] },
        }),
      ),
    );
    // Installed (0) or busy (7: another run holds the lock, or changed the secret under this one).
    for (const r of runs)
      expect({ round, code: r.code, err: [0, 7].includes(r.code) ? '' : r.stderr }).toEqual({
        round,
        code: r.code,
        err: '',
      });
    const data = await sb.secretData(t.namespace, t.secret);
    const inSecret = new X509Certificate(Buffer.from(data!['tls.crt']!, 'base64')).fingerprint256;
    expect((await sb.servedCert(t.endpoint)).sha256).toBe(inSecret);
    expect(
      JSON.parse((await sb.kubectl(['get', 'secret', t.secret, '-n', t.namespace, '-o', 'json'])).stdout).metadata
        .annotations?.['xsoar-cert.io/lock'],
    ).toBeUndefined(); // released
    // Two runs can both end 0 only one after the other; what is installed is the last of them.
    const winners = await Promise.all(
      runs.map(async (r, i) => {
        if (r.code !== 0) return undefined;
        const audit = JSON.parse(
          (await runCli(['audit', '--json'], { env: { ...sb.env, XSOAR_CERT_STATE_DIR: dirs[i] } })).stdout,
        ) as Array<{ ts: string; result: string }>;
        return { fp: fp(certs[i]!), ts: audit.filter((a) => a.result === 'installed').pop()!.ts };
      }),
    );
    const last = winners
      .filter((w) => w)
      .sort((a, b) => (a!.ts < b!.ts ? -1 : 1))
      .pop();
    if (last) expect(last.fp).toBe(inSecret);
  }
}, 600000);

test('a slow rollout: a second admin is refused with exit 7 naming the holder, changes nothing, and the first install stands', async () => {
  const t = sb.tenants[0]!;
  const [a, b] = [certs[0]!, certs[1]!];
  const install = (m: MintedChain, dir: string) =>
    runCli(adminArgs(m), { env: { ...sb.env, XSOAR_CERT_STATE_DIR: dir } });
  await sb.setRollout({ namespace: t.namespace, deployment: t.deployment, mode: 'complete', delayMs: 4000, times: 1 });
  const first = install(a, mkdtempSync(path.join(tmpdir(), 'xsoar-cert-admin-a-')));
  // Wait until A holds the lock (its replace landed), then B tries.
  for (let i = 0; i < 200; i++) {
    const s = JSON.parse((await sb.kubectl(['get', 'secret', t.secret, '-n', t.namespace, '-o', 'json'])).stdout);
    if (s.metadata.annotations?.['xsoar-cert.io/lock']) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const held = await sb.secretData(t.namespace, t.secret);
  const second = await install(b, mkdtempSync(path.join(tmpdir(), 'xsoar-cert-admin-b-')));
  expect(second.code).toBe(7);
  expect(second.stderr).toMatch(
    /is being changed by another xsoar-cert install \(.*pid \d+ on .*since .*\).*Wait for it to finish/s,
  );
  expect(second.stderr).not.toMatch(/at .*\.js:\d+/); // one line, no stack
  expect(await sb.secretData(t.namespace, t.secret)).toEqual(held); // B changed nothing
  const r = await first;
  await sb.setRollout({ namespace: t.namespace, deployment: t.deployment, mode: 'complete', delayMs: 150 });
  expect(r.code).toBe(0);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(fp(a));
  // Once A is done, B goes through.
  expect((await install(b, mkdtempSync(path.join(tmpdir(), 'xsoar-cert-admin-b-')))).code).toBe(0);
}, 120000);

test('a lock left by a run on another host: honoured until it expires, then taken over', async () => {
  const t = sb.tenants[0]!;
  const m = certs[2]!;
  const lockOf = (expires: Date) =>
    JSON.stringify({
      run: 'deadbeef0000',
      op: 'renew',
      by: 'cron@other',
      host: 'other-host',
      pid: 4242,
      since: new Date().toISOString(),
      expires: expires.toISOString(),
    });
  const setLock = (v: string) =>
    sb.kubectl(['annotate', '--overwrite', 'secret', t.secret, '-n', t.namespace, `xsoar-cert.io/lock=${v}`]);
  const install = () => runCli(adminArgs(m), { env: sb.env });
  expect((await setLock(lockOf(new Date(Date.now() + 600_000)))).code).toBe(0);
  const before = await sb.secretData(t.namespace, t.secret);
  const held = await install();
  expect(held.code).toBe(7);
  expect(held.stderr).toMatch(/another xsoar-cert renew \(cron@other, pid 4242 on other-host/);
  expect(await sb.secretData(t.namespace, t.secret)).toEqual(before);
  expect((await setLock(lockOf(new Date(Date.now() - 1000)))).code).toBe(0);
  const taken = await install();
  expect(taken.code).toBe(0);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(fp(m));
  const s = JSON.parse((await sb.kubectl(['get', 'secret', t.secret, '-n', t.namespace, '-o', 'json'])).stdout);
  expect(s.metadata.annotations['xsoar-cert.io/lock']).toBeUndefined();
}, 120000);
