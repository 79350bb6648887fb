// Local state read back as untrusted input: folders and files another user could have written,
// links, damaged or planted markers and locks, zombie and stale holders.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import {
  acquireLock,
  markerFile,
  pidAlive,
  procStart,
  readMarker,
  writeMarker,
  type Marker,
} from '../../../src/ops/state.js';
import { createStateFile, readStateFile, stateFolder, writeStateFile } from '../../../src/state-dir.js';
import { EXIT } from '../../../src/errors.js';

const root = process.getuid?.() === 0;
let state: string;
const saved = process.env.XSOAR_CERT_STATE_DIR;
beforeEach(() => {
  state = path.join(mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-')), 'state');
  process.env.XSOAR_CERT_STATE_DIR = state;
});
afterAll(() => {
  process.env.XSOAR_CERT_STATE_DIR = saved;
});

const FP = 'AB:'.repeat(31) + 'CD';
const marker = (m: Partial<Marker> = {}): Marker => ({
  pid: 999999,
  op: 'install',
  namespace: 'tenant-1',
  secret: 'xsoar-tls',
  backupName: 'xsoar-tls-prev-20260101000000-abcd',
  oldFingerprint: FP,
  newFingerprint: FP,
  deployments: ['xsoar-proxy'],
  step: 'apply',
  startedAt: '2026-01-01T00:00:00.000Z',
  ...m,
});
const exitOf = (fn: () => unknown) => {
  try {
    fn();
    return 0;
  } catch (err) {
    return (err as { exitCode?: number }).exitCode ?? -1;
  }
};

describe("finding 1: the state dir is used only when it is this user's and private", () => {
  test('created 0700 under umask 000; a group- or other-writable one is refused (exit 3) naming it', () => {
    const old = process.umask(0);
    try {
      expect(stateFolder('markers')).toBe(path.join(state, 'markers'));
    } finally {
      process.umask(old);
    }
    expect(statSync(state).mode & 0o777).toBe(0o700);
    chmodSync(state, 0o777);
    expect(() => stateFolder('markers')).toThrow(
      new RegExp(`${state}: this xsoar-cert state folder is writable by group`),
    );
    expect(exitOf(() => stateFolder('markers'))).toBe(EXIT.INPUT);
    expect(exitOf(() => readMarker('tenant-1', 'xsoar-tls'))).toBe(EXIT.INPUT);
  });

  (root ? test : test.skip)('a folder or file owned by another user is refused, even to read', () => {
    mkdirSync(path.join(state, 'markers'), { recursive: true, mode: 0o700 });
    writeFileSync(markerFile('tenant-1', 'xsoar-tls'), JSON.stringify(marker()), { mode: 0o600 });
    chownSync(markerFile('tenant-1', 'xsoar-tls'), 65534, 65534);
    expect(() => readMarker('tenant-1', 'xsoar-tls')).toThrow(/is owned by uid 65534, not by this user/);
    chownSync(path.join(state, 'markers'), 65534, 65534);
    expect(() => stateFolder('markers', false)).toThrow(/markers: this xsoar-cert state folder is owned by uid 65534/);
  });

  test('a state file that is a link is refused; writes replace the link, never what it points to', () => {
    stateFolder();
    const victim = path.join(path.dirname(state), 'victim.txt');
    writeFileSync(victim, 'keep me', { mode: 0o644 });
    const f = path.join(state, 'audit.jsonl');
    symlinkSync(victim, f);
    expect(() => readStateFile(f)).toThrow(/audit\.jsonl: this xsoar-cert state is a symbolic link/);
    writeStateFile(f, 'new');
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    expect(readStateFile(f)).toBe('new');
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  test('createStateFile never replaces an existing name, a dangling link included', () => {
    stateFolder();
    const f = path.join(state, 'x.lock');
    symlinkSync(path.join(state, 'nowhere'), f);
    expect(createStateFile(f, 'mine')).toBe(false);
    expect(existsSync(path.join(state, 'nowhere'))).toBe(false);
  });

  test('a key file readable by others is refused; a file larger than its bound is refused', () => {
    stateFolder('acme');
    const key = path.join(state, 'acme', 'ca.key');
    writeFileSync(key, 'k', { mode: 0o644 });
    chmodSync(key, 0o644);
    expect(() => readStateFile(key, { secret: true })).toThrow(/holds a key but is readable by group or others/);
    const big = path.join(state, 'big.json');
    writeFileSync(big, 'x'.repeat(2048), { mode: 0o600 });
    expect(() => readStateFile(big, { maxBytes: 1024 })).toThrow(/is 2048 bytes, more than the 1024/);
  });
});

describe('finding 1: every field of a marker is checked before it is acted on', () => {
  test.each([
    ['another secret', { secret: 'other-secret' }, 'secret'],
    ['another namespace', { namespace: 'kube-system' }, 'namespace'],
    ['a backup of another secret', { backupName: 'other-secret-prev-20260101000000-abcd' }, 'backupName'],
    ['a flag-looking backup', { backupName: '--server=http://127.0.0.1:1' }, 'backupName'],
    ['a flag-looking deployment', { deployments: ['--kubeconfig=/tmp/x'] }, 'deployments'],
    ['a fingerprint that is not hex', { newFingerprint: 'AB:CD' }, 'newFingerprint'],
    ['a pid that is a string', { pid: '1' as unknown as number }, 'pid'],
    ['an unknown step', { step: 'delete' as Marker['step'] }, 'step'],
  ])('a marker naming %s is refused (exit 3) naming the field', (_what, bad, field) => {
    mkdirSync(path.join(state, 'markers'), { recursive: true, mode: 0o700 });
    writeFileSync(markerFile('tenant-1', 'xsoar-tls'), JSON.stringify(marker(bad)), { mode: 0o600 });
    expect(() => readMarker('tenant-1', 'xsoar-tls')).toThrow(new RegExp(`is damaged \\(its ${field} is not valid\\)`));
    expect(exitOf(() => readMarker('tenant-1', 'xsoar-tls'))).toBe(EXIT.INPUT);
  });

  test('a marker this program wrote reads back as written', () => {
    writeMarker(marker({ lock: '{"run":"abc"}', context: 'prod' }));
    expect(readMarker('tenant-1', 'xsoar-tls')).toEqual(marker({ lock: '{"run":"abc"}', context: 'prod' }));
    expect(statSync(markerFile('tenant-1', 'xsoar-tls')).mode & 0o777).toBe(0o600);
  });
});

describe('finding 13: lock holders that will never finish do not block', () => {
  test('a zombie process is not alive', async () => {
    // The child exits after its parent has exec'd into `sleep 5`, which never reaps it: a zombie. (A
    // child that exits at once may be reaped by sh itself before the exec, then there is no zombie.)
    const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(
      await new Promise<string>((res) => parent.stdout!.once('data', (d: Buffer) => res(d.toString().trim()))),
    );
    try {
      for (let i = 0; i < 100 && readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]![0] !== 'Z'; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]![0]).toBe('Z');
      expect(pidAlive(pid, procStart(pid))).toBe(false);
      expect(pidAlive(parent.pid!, procStart(parent.pid!))).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  test('a local lock written under another hostname is stale after LOCAL_LOCK_MAX_AGE; a recent one holds (exit 7)', () => {
    mkdirSync(path.join(state, 'locks'), { recursive: true, mode: 0o700 });
    const file = path.join(state, 'locks', 'tenant-1__xsoar-tls.lock');
    const plant = (sinceMs: number) =>
      writeFileSync(
        file,
        JSON.stringify({
          pid: 1,
          host: `not-${hostname()}`,
          since: new Date(Date.now() - sinceMs).toISOString(),
          op: 'renew',
        }),
        { mode: 0o600 },
      );
    plant(60_000);
    expect(exitOf(() => acquireLock('tenant-1', 'xsoar-tls', 'install'))).toBe(EXIT.BUSY);
    plant(7 * 3600_000);
    const lock = acquireLock('tenant-1', 'xsoar-tls', 'install');
    expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(file)).toBe(false);
  });

  test('a damaged lock file is stale, not an error', () => {
    mkdirSync(path.join(state, 'locks'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(state, 'locks', 'tenant-1__xsoar-tls.lock'), '{"pid": "1; rm -rf /"}', { mode: 0o600 });
    acquireLock('tenant-1', 'xsoar-tls', 'install').release();
  });
});
