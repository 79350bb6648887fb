// The start of every run (bin/xsoar-cert.js). Node 20 compiles each ES module from source on every
// start: about 60 ms of an install's 330 ms here, as much as the safety steps. So `npm run build`
// also writes the whole CLI as one CommonJS file (dist/cli.<hash>.cjs, scripts/cli-bundle.mjs), and
// this launcher compiles it with V8's code cache (node:vm Script cachedData), which Node 22 offers
// as module.enableCompileCache and Node 20 does not. Imports only Node built-ins: it runs first.
//
// The cache is code, so it is only read from a folder of this user's that nobody else may enter,
// under folders nobody else may rename things in, and from a file of this user's that nobody else
// may write; anything else is ignored, never an error. Its name carries the bundle's hash, Node's
// version and the command, because V8 checks only the source's length before trusting a cache
// (SerializedCodeData::SourceHash in V8's code-serializer.cc).
import { closeSync, constants as C, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

const DIST = path.dirname(fileURLToPath(import.meta.url));
const MANIFEST = path.join(DIST, 'cli.bundle.json');
const MAX_CACHE = 64 * 1024 * 1024;
const me = process.getuid?.();

/**
 * The bundle (named by its hash, so a rebuild never changes a file under a running launcher) and its
 * hash, when it is there and no older than the modules it was built from.
 */
function bundle(): { file: string; id: string } | undefined {
  // XSOAR_CERT_DEBUG: stack traces name the real files. XSOAR_CERT_NO_BUNDLE: the modules, for comparison.
  if (process.env.XSOAR_CERT_DEBUG === '1' || process.env.XSOAR_CERT_NO_BUNDLE === '1') return undefined;
  try {
    const id = (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { sha256?: unknown }).sha256;
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) return undefined;
    const file = path.join(DIST, `cli.${id.slice(0, 16)}.cjs`);
    // A `tsc` alone leaves the bundle behind the modules: run the modules then (`tsc --watch`, which
    // rewrites only what changed, needs XSOAR_CERT_NO_BUNDLE=1; README, Security, "The start-up cache").
    if (statSync(file).mtimeMs < statSync(path.join(DIST, 'cli', 'main.js')).mtimeMs) return undefined;
    return { file, id };
  } catch {
    return undefined;
  }
}

/** Ours (or root's) and closed to others, or a sticky folder like /tmp where only owners rename. */
function safeAncestor(st: Stats): boolean {
  if (st.uid !== me && st.uid !== 0) return false;
  return (st.mode & 0o022) === 0 || (st.mode & 0o1000) !== 0;
}

/**
 * $XDG_CACHE_HOME/xsoar-cert (else ~/.cache/xsoar-cert): 0700 and ours, under folders no one else
 * may rename things in (else a neighbour could swap the folder after the check); else undefined.
 */
function cacheFolder(): string | undefined {
  const xdg = process.env.XDG_CACHE_HOME;
  // XDG Base Directory spec: a relative path is invalid and ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(process.env.HOME || homedir(), '.cache');
  if (!path.isAbsolute(base)) return undefined;
  const dir = path.join(base, 'xsoar-cert');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== me || st.mode & 0o077) return undefined;
    for (let up = path.dirname(dir); ; up = path.dirname(up)) {
      const a = lstatSync(up);
      if (!a.isDirectory() || !safeAncestor(a)) return undefined;
      if (up === path.dirname(up)) return dir;
    }
  } catch {
    return undefined;
  }
}

/** The cache, if it is a regular file of this user's that nobody else may write; else undefined. */
function readCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== me || st.mode & 0o022 || st.size > MAX_CACHE) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const WEEK_MS = 7 * 24 * 3600 * 1000;

/**
 * Written whole under a private name, then renamed. Other builds' caches go after a week unused
 * (two installs of different versions keep theirs), a killed write's temporary file after an hour.
 */
function writeCache(dir: string, file: string, data: Buffer, prefix: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
    const now = Date.now();
    for (const f of readdirSync(dir)) {
      const age = now - lstatSync(path.join(dir, f)).mtimeMs;
      const stale = f.endsWith('.tmp')
        ? age > 3600_000
        : f.endsWith('.v8cache') && !f.startsWith(prefix) && age > WEEK_MS;
      if (stale) unlinkSync(path.join(dir, f));
    }
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
  }
}

function runBundle(b: { file: string; id: string }): void {
  const source = readFileSync(b.file, 'utf8');
  const dir = cacheFolder();
  // One cache per command: each holds the functions its command ran (V8 compiles lazily).
  const command = /^[a-z][a-z-]{0,23}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
  const prefix = `${b.id.slice(0, 16)}-`;
  const file = dir && path.join(dir, `${prefix}${process.version}-${process.arch}-${command}.v8cache`);
  const cachedData = file ? readCache(file) : undefined;
  // The file is one function expression (scripts/cli-bundle.mjs): compiled as it is, not copied.
  const script = new Script(source, { filename: b.file, cachedData });
  // Kept from a whole run only: a usage error or a `--help` would keep a cache of almost nothing,
  // which V8 then accepts on every later run.
  const whole = !process.argv.some((a) => a === '--help' || a === '-h');
  if (dir && file && whole && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', (code) => {
      if (code === 0) writeCache(dir, file, script.createCachedData(), prefix);
    });
  }
  const module = { exports: {} };
  const url = pathToFileURL(b.file).href;
  (script.runInThisContext() as (...a: unknown[]) => void)(createRequire(url), module, module.exports, url);
}

// `--version` needs one small module, not the bundle (see the start-up bench).
const version = process.argv.length === 3 && ['--version', '-V'].includes(process.argv[2]!);
const found = version ? undefined : bundle();
if (version) {
  // `xsoar-cert --version | head -c0`: a closed pipe is the reader's choice (as in cli/main.ts).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
  process.stdout.write((await import('./version.js')).VERSION + '\n');
} else if (found) runBundle(found);
else await import('./cli/main.js');
