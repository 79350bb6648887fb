// The launcher (src/launch.ts): the CLI runs from dist/cli.bundle.cjs with a V8 code cache per
// command, kept in a folder and files only this user may write; whatever else it finds, it ignores.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { lstatSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, ROOT } from '../helpers/run-cli.js';

const CERT = path.join(ROOT, 'test', 'fixtures', 'malformed', 'csr.pem');
const sha = () =>
  (JSON.parse(readFileSync(path.join(ROOT, 'dist', 'cli.bundle.json'), 'utf8')) as { sha256: string }).sha256;
const cacheName = (command: string) => `${sha().slice(0, 16)}-${process.version}-${process.arch}-${command}.v8cache`;

function run(cacheHome: string, args: string[], env: NodeJS.ProcessEnv = {}, bin = BIN) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', XSOAR_CERT_DEBUG: '', XDG_CACHE_HOME: cacheHome, ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fresh = () => mkdtempSync(path.join(tmpdir(), 'xsoar-cert-cache-'));
const mode = (p: string) => statSync(p).mode & 0o777;

test('a first run writes its command’s cache (0600 in a 0700 folder); the next run uses it as it is', () => {
  const home = fresh();
  const first = run(home, ['inspect', CERT]);
  expect(first.code).toBe(0);
  const dir = path.join(home, 'xsoar-cert');
  expect(mode(dir)).toBe(0o700);
  expect(readdirSync(dir)).toEqual([cacheName('inspect')]);
  const file = path.join(dir, cacheName('inspect'));
  expect(mode(file)).toBe(0o600);
  const before = statSync(file);
  const second = run(home, ['inspect', CERT]);
  // Accepted by V8, so not written again (a rejected cache is replaced by a new file).
  expect(statSync(file).ino).toBe(before.ino);
  expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
  // The same answer as the modules give, cache or not.
  const modules = run(fresh(), ['inspect', CERT], { XSOAR_CERT_NO_BUNDLE: '1' });
  expect(second).toEqual(modules);
  expect(first).toEqual(modules);
  expect(second.stdout).toMatch(/certificate signing request \(PKCS#10\)/);
});

test('a corrupt cache is rejected by V8 and replaced; the command answers as usual', () => {
  const home = fresh();
  const dir = path.join(home, 'xsoar-cert');
  mkdirSync(dir, { mode: 0o700 });
  const file = path.join(dir, cacheName('inspect'));
  writeFileSync(file, Buffer.alloc(4096, 0x5a), { mode: 0o600 });
  const r = run(home, ['inspect', CERT]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/certificate signing request/);
  expect(readFileSync(file).equals(Buffer.alloc(4096, 0x5a))).toBe(false);
  expect(mode(file)).toBe(0o600);
});

test('a cache folder others may write, or one under a folder others may rename in, is neither read nor written', () => {
  const home = fresh();
  const dir = path.join(home, 'xsoar-cert');
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  const r = run(home, ['inspect', CERT]);
  expect(r.code).toBe(0);
  expect(readdirSync(dir)).toEqual([]);
  // Our own 0700 folder, but its parent lets others swap it after the check (not sticky like /tmp).
  const open = fresh();
  chmodSync(open, 0o777);
  expect(run(open, ['inspect', CERT]).code).toBe(0);
  expect(readdirSync(path.join(open, 'xsoar-cert'))).toEqual([]);
});

test('only a whole run keeps a cache: not a failed one, not --help', () => {
  const home = fresh();
  expect(run(home, ['inspect', path.join(ROOT, 'no-such.pem')]).code).toBe(3);
  expect(run(home, ['inspect', '--help']).code).toBe(0);
  expect(readdirSync(path.join(home, 'xsoar-cert'))).toEqual([]);
  expect(run(home, ['inspect', CERT]).code).toBe(0);
  expect(readdirSync(path.join(home, 'xsoar-cert'))).toEqual([cacheName('inspect')]);
});

test('a valid cache others may write, or behind a link, is not read: it is replaced; a link’s target is untouched', () => {
  const home = fresh();
  expect(run(home, ['inspect', CERT]).code).toBe(0);
  const file = path.join(home, 'xsoar-cert', cacheName('inspect'));
  const valid = readFileSync(file);
  // V8 would accept it, so only the launcher's checks make it write a new one.
  chmodSync(file, 0o666);
  const ino = statSync(file).ino;
  expect(run(home, ['inspect', CERT]).code).toBe(0);
  expect(mode(file)).toBe(0o600);
  expect(statSync(file).ino).not.toBe(ino);

  const target = path.join(home, 'elsewhere');
  writeFileSync(target, valid, { mode: 0o600 });
  unlinkSync(file);
  symlinkSync(target, file);
  expect(run(home, ['inspect', CERT]).code).toBe(0);
  expect(lstatSync(file).isSymbolicLink()).toBe(false);
  expect(readFileSync(target).equals(valid)).toBe(true);
});

test('the modules run instead when the bundle is older than them, with XSOAR_CERT_DEBUG, and for --version', () => {
  const copy = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-copy-'));
  cpSync(path.join(ROOT, 'dist'), path.join(copy, 'dist'), { recursive: true, preserveTimestamps: true });
  cpSync(path.join(ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const bin = path.join(copy, 'bin', 'xsoar-cert.js');
  const home = fresh();
  expect(run(home, ['inspect', CERT], {}, bin).code).toBe(0);
  expect(readdirSync(path.join(home, 'xsoar-cert'))).toEqual([cacheName('inspect')]);

  const later = new Date(Date.now() + 60_000);
  utimesSync(path.join(copy, 'dist', 'cli', 'main.js'), later, later);
  const stale = fresh();
  const r = run(stale, ['inspect', CERT], {}, bin);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/certificate signing request/);
  expect(() => readdirSync(path.join(stale, 'xsoar-cert'))).toThrow();

  const other = fresh();
  expect(run(other, ['inspect', CERT], { XSOAR_CERT_DEBUG: '1' }).code).toBe(0);
  expect(run(other, ['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  expect(() => readdirSync(path.join(other, 'xsoar-cert'))).toThrow();
  // A reader that closes the pipe at once: exit 0, nothing on stderr.
  const closed = spawnSync(
    'bash',
    ['-c', `"${process.execPath}" "${BIN}" --version | head -c0; exit \${PIPESTATUS[0]}`],
    {
      encoding: 'utf8',
    },
  );
  expect({ status: closed.status, stderr: closed.stderr }).toEqual({ status: 0, stderr: '' });
});
