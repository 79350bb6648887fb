// Issue 16, findings 1, 6 and 12, through the real CLI against the sandbox: another local user who
// gets at the state dir (run as two users: `nobody` plants, `daemon` is the victim; root only,
// skipped with a printed reason otherwise), an audit log cut short or rewritten, a lock that claims
// to hold for ever, and a dry run that must not resolve a marker.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { asUser, runCli, type CliResult } from '../helpers/run-cli.js';
import { recordHash, type AuditRecord } from '../../src/audit/log.js';

let sb: Sandbox;
let a: MintedChain;
beforeAll(async () => {
  sb = await startSandbox({ tenants: 8, rolloutDelayMs: 20, inlinePods: true });
  a = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] });
  // The victim user reads the test chain too (a throwaway key, made for this test).
  chmodSync(path.dirname(a.files.leaf), 0o755);
  for (const f of [a.files.leaf, a.files.chain, a.files.key, a.files.root]) chmodSync(f, 0o644);
}, 120000);
afterAll(async () => sb?.stop());

const canSwitch =
  process.getuid?.() === 0 &&
  spawnSync(asUser('nobody', ['true'])[0]!, asUser('nobody', ['true']).slice(1)).status === 0;
if (!canSwitch)
  console.log(
    'hostile-neighbour: the two-user cases are skipped: they need root and setpriv to run as nobody and daemon',
  );
const twoUsers = canSwitch ? describe : describe.skip;

const t = (i = 0) => sb.tenants[i]!;
const installFor = (i = 0) => installArgs(a, [...targetArgs(t(i)), '--yes', '--allow-name-change']);
const rv = async (i = 0) =>
  (
    await sb.kubectl(['get', 'secret', t(i).secret, '-n', t(i).namespace, '-o', 'jsonpath={.metadata.resourceVersion}'])
  ).stdout.trim();
const xsoarLines = (r: CliResult) => r.stderr.split('\n').filter((l) => l.startsWith('xsoar-cert:'));
const UID = { nobody: 65534, daemon: 1 };

/** A home for `user` with its own copy of the sandbox kubeconfig; the state dir is `state` (not created). */
function envFor(user: keyof typeof UID, state: string): NodeJS.ProcessEnv {
  const home = mkdtempSync(path.join(tmpdir(), `xsoar-cert-${user}-`));
  copyFileSync(sb.kubeconfig, path.join(home, 'kubeconfig'));
  for (const f of [home, path.join(home, 'kubeconfig')]) chownSync(f, UID[user], UID[user]);
  return {
    ...sb.env,
    HOME: home,
    KUBECONFIG: path.join(home, 'kubeconfig'),
    KUBECACHEDIR: path.join(home, 'cache'),
    XSOAR_CERT_CONFIG: path.join(home, 'none.json'),
    XSOAR_CERT_STATE_DIR: state,
  };
}
/** A folder every user may enter, for state dirs made by one user and used by another. */
const shared = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-shared-'));
  chmodSync(d, 0o1777); // like /tmp: anyone may create, only the owner may remove
  return d;
};
const plantAs = (user: keyof typeof UID, script: string) => {
  const [cmd, ...args] = asUser(user, ['sh', '-c', `umask 000; ${script}`]);
  expect(spawnSync(cmd!, args).status).toBe(0);
};

twoUsers('finding 1: a state dir another user made is refused (exit 3), not used', () => {
  test('a lock naming pid 1 planted in a 0777 state dir does not block the victim: exit 3 naming the folder', async () => {
    const state = path.join(shared(), 'state');
    const pid1Start = readFileSync('/proc/1/stat', 'latin1').split(') ')[1]!.split(' ')[19];
    const lock = JSON.stringify({
      pid: 1,
      pidStart: pid1Start,
      host: hostname(),
      since: new Date().toISOString(),
      op: 'renew',
    });
    plantAs(
      'nobody',
      `mkdir -p ${state}/locks && chmod 777 ${state} ${state}/locks && printf '%s' '${lock}' > ${state}/locks/${t().namespace}__${t().secret}.lock`,
    );
    const before = await rv();
    const r = await runCli(installFor(), { env: envFor('daemon', state), user: 'daemon' });
    expect(r.code).toBe(3);
    expect(xsoarLines(r)).toEqual([
      expect.stringMatching(
        new RegExp(`${state}: this xsoar-cert state folder is owned by uid 65534, not by this user \\(uid 1\\)`),
      ),
    ]);
    expect(r.stderr).toMatch(/XSOAR_CERT_STATE_DIR to a folder you own/);
    expect(await rv()).toBe(before);
  });

  test('a marker naming another secret, planted in a shared state dir, is not acted on by renew --dry-run (nothing written)', async () => {
    const state = path.join(shared(), 'state');
    const m = {
      pid: 999999,
      op: 'install',
      namespace: t().namespace,
      secret: t().secret,
      backupName: `${t(1).secret}`,
      newFingerprint: 'AB:'.repeat(31) + 'CD',
      deployments: [t().deployment],
      step: 'apply',
      startedAt: new Date().toISOString(),
    };
    plantAs(
      'nobody',
      `mkdir -p ${state}/markers && chmod 777 ${state} ${state}/markers && printf '%s' '${JSON.stringify(m)}' > ${state}/markers/${t().namespace}__${t().secret}.json`,
    );
    const before = [await rv(0), await rv(1)];
    const r = await runCli(
      ['renew', '--self-signed', '--force', '--dry-run', '-n', t().namespace, '--secret', t().secret],
      { env: envFor('daemon', state), user: 'daemon' },
    );
    expect({ code: r.code, lines: xsoarLines(r).length }).toEqual({ code: 3, lines: 1 });
    expect(r.stderr).not.toMatch(/resolved/);
    expect([await rv(0), await rv(1)]).toEqual(before);
  });

  test('an audit.jsonl link to a file of the victim is refused; the file keeps its mode and content', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-victim-'));
    chownSync(dir, UID.daemon, UID.daemon);
    const state = path.join(dir, 'state');
    const precious = path.join(dir, 'precious.txt');
    plantAs(
      'daemon',
      `mkdir -m 700 ${state} && printf keep > ${precious} && chmod 644 ${precious} && ln -s ${precious} ${state}/audit.jsonl`,
    );
    const before = await rv();
    const r = await runCli(installFor(), { env: envFor('daemon', state), user: 'daemon' });
    expect(r.code).toBe(3);
    expect(xsoarLines(r)).toEqual([
      expect.stringMatching(/audit\.jsonl: this xsoar-cert state is a symbolic link: refusing to use it/),
    ]);
    expect({ mode: statSync(precious).mode & 0o777, text: readFileSync(precious, 'utf8') }).toEqual({
      mode: 0o644,
      text: 'keep',
    });
    expect(await rv()).toBe(before);
  });

  test('a pending request (key and description) owned by another user is refused, not offered', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-victim-'));
    chownSync(dir, UID.daemon, UID.daemon);
    const state = path.join(dir, 'state');
    plantAs('daemon', `mkdir -m 700 ${state} ${state}/requests`);
    writeFileSync(
      path.join(state, 'requests', '1.json'),
      JSON.stringify({
        id: 1,
        created: new Date().toISOString(),
        names: ['x.example'],
        subject: 'CN=x.example',
        key: 'ecdsa P-256',
        csrFile: '/tmp/x.csr',
        publicKeySha256: 'AB',
      }),
      { mode: 0o644 },
    );
    chownSync(path.join(state, 'requests', '1.json'), UID.nobody, UID.nobody);
    const r = await runCli(['csr', '--list'], { env: envFor('daemon', state), user: 'daemon' });
    expect(r.code).toBe(3);
    expect(xsoarLines(r)).toEqual([
      expect.stringMatching(/requests\/1\.json: this xsoar-cert state is owned by uid 65534/),
    ]);
  });
});

describe('finding 1: a dry run never resolves a marker; it says what the next real run will do', () => {
  test('install --dry-run and renew --dry-run leave the marker and the cluster as they are', async () => {
    const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-'));
    const env = { ...sb.env, XSOAR_CERT_STATE_DIR: state };
    expect((await runCli(installFor(2), { env })).code).toBe(0);
    const backups = JSON.parse(
      (
        await sb.kubectl([
          'get',
          'secrets',
          '-n',
          t(2).namespace,
          '-l',
          `xsoar-cert.io/previous-of=${t(2).secret}`,
          '-o',
          'json',
        ])
      ).stdout,
    ).items as { metadata: { name: string } }[];
    const marker = path.join(state, 'markers', `${t(2).namespace}__${t(2).secret}.json`);
    mkdirSync(path.dirname(marker), { recursive: true, mode: 0o700 });
    const fp = 'AB:'.repeat(31) + 'CD';
    writeFileSync(
      marker,
      JSON.stringify({
        pid: 999999,
        op: 'install',
        namespace: t(2).namespace,
        secret: t(2).secret,
        backupName: backups[0]!.metadata.name,
        oldFingerprint: fp,
        newFingerprint: fp,
        deployments: [t(2).deployment],
        step: 'restart',
        startedAt: new Date().toISOString(),
      }),
      { mode: 0o600 },
    );
    const before = await rv(2);
    for (const cmd of [
      installFor(2),
      ['renew', '--self-signed', '--force', '-n', t(2).namespace, '--secret', t(2).secret],
    ]) {
      const r = await runCli([...cmd, '--dry-run'], { env });
      expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
      expect(r.stderr).toMatch(
        new RegExp(
          `interrupted at step "restart"; the next real run will roll back to ${backups[0]!.metadata.name}.*\\(dry run: not resolved now\\)`,
        ),
      );
      expect(await rv(2)).toBe(before);
      expect(statSync(marker).isFile()).toBe(true);
    }
  });
});

describe('finding 6: audit --verify checks the log against the anchors the changes wrote into the cluster', () => {
  let state: string;
  let env: NodeJS.ProcessEnv;
  let original: string;
  const log = () => path.join(state, 'audit.jsonl');
  const verify = (extra: string[] = []) => runCli(['audit', '--verify', '-n', t(3).namespace, ...extra], { env });
  beforeAll(async () => {
    state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-'));
    env = { ...sb.env, XSOAR_CERT_STATE_DIR: state };
    // 8 installs at once, 8 processes appending to one log: the chain and every anchor still agree.
    const runs = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => runCli(installFor(i), { env })));
    expect(runs.map((r) => r.code)).toEqual(Array(8).fill(0));
    expect((await runCli(installFor(3), { env })).code).toBe(0);
    original = readFileSync(log(), 'utf8');
  }, 120000);
  afterEach(() => writeFileSync(log(), original));

  test('an intact log written by 8 concurrent installs verifies, anchors included', async () => {
    const r = await verify();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/9 record\(s\), hash chain intact; (9|1\d) cluster anchor\(s\) match/);
  });

  const records = () =>
    original
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
  const rechain = (rs: AuditRecord[]) => {
    let prev = '0'.repeat(64);
    return (
      rs
        .map((r) => {
          const { hash: _h, ...rest } = { ...r, prevHash: prev };
          const hash = recordHash(rest);
          prev = hash;
          return JSON.stringify({ ...rest, hash });
        })
        .join('\n') + '\n'
    );
  };
  test.each([
    [
      'the newest record removed',
      () => original.trim().split('\n').slice(0, -1).join('\n') + '\n',
      /has no record in the log: its record was removed/,
    ],
    [
      'a record rewritten with the chain recomputed',
      () => rechain(records().map((r, i) => (i === 0 ? { ...r, result: 'rolled-back' as const } : r))),
      /which the log no longer holds: records were removed or rewritten/,
    ],
    ['the file emptied', () => '', /which the log no longer holds|has no record in the log/],
  ])(
    '%s: exit 1 naming the secret whose anchor disagrees (the chain alone says intact)',
    async (_what, tamper, msg) => {
      writeFileSync(log(), tamper());
      expect((await verify(['--local-only'])).code).toBe(0); // what the file alone shows
      const r = await verify();
      expect(r.code).toBe(1);
      expect(xsoarLines(r)).toEqual([expect.stringMatching(msg)]);
      expect(r.stderr).toMatch(new RegExp(`${t(3).namespace}/${t(3).secret}`));
    },
  );

  (canSwitch ? test : test.skip)("the file replaced by another user's: exit 3 naming it", async () => {
    const copy = path.join(state, 'other.jsonl');
    writeFileSync(copy, original, { mode: 0o600 });
    chownSync(copy, UID.nobody, UID.nobody);
    renameSync(copy, log());
    const r = await verify();
    expect(r.code).toBe(3);
    expect(xsoarLines(r)).toEqual([expect.stringMatching(/audit\.jsonl: this xsoar-cert state is owned by uid 65534/)]);
    unlinkSync(log());
  });
});

describe('finding 12: a lock that claims to hold for ever is honoured only for its bounded lifetime', () => {
  const annotate = async (i: number, lock: object) =>
    expect(
      (
        await sb.kubectl([
          'annotate',
          '--overwrite',
          'secret',
          t(i).secret,
          '-n',
          t(i).namespace,
          `xsoar-cert.io/lock=${JSON.stringify(lock)}`,
        ])
      ).code,
    ).toBe(0);
  const held = (since: Date, expires: string) => ({
    run: 'feedbeef',
    op: 'install',
    by: 'mallory',
    host: 'elsewhere',
    pid: 1,
    since: since.toISOString(),
    expires,
  });
  test('expires in 9999 but taken 3 h ago: taken over; a fresh one refuses (exit 7) and says how to take it by hand', async () => {
    await annotate(4, held(new Date(Date.now() - 3 * 3600_000), '9999-12-31T00:00:00.000Z'));
    expect((await runCli(installFor(4), { env: sb.env })).code).toBe(0);
    await annotate(4, held(new Date(), '9999-12-31T00:00:00.000Z'));
    const r = await runCli(installFor(4), { env: sb.env });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/kubectl annotate secret xsoar-tls -n \S+ xsoar-cert\.io\/lock- /);
    await annotate(4, held(new Date('9999-01-01T00:00:00Z'), '9999-12-31T00:00:00.000Z'));
    expect((await runCli(installFor(4), { env: sb.env })).code).toBe(0);
  });
  test('--timeout is bounded (exit 2): the lock lives for two of them', async () => {
    const r = await runCli([...installFor(4), '--timeout', '99999'], { env: sb.env });
    expect({ code: r.code, line: xsoarLines(r)[0] }).toEqual({
      code: 2,
      line: expect.stringMatching(/--timeout must be at most 3600 seconds/),
    });
  });
});
