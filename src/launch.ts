// The start of every run (bin/xsoar-cert.js). Node 20 compiles each ES module from source on every
// start: about 60 ms of an install's 330 ms here, as much as the safety steps. So `npm run build`
// also writes the whole CLI as one CommonJS file (dist/cli.bundle.cjs, scripts/cli-bundle.mjs), and
// this launcher compiles it with V8's code cache (node:vm Script cachedData), which Node 22 offers
// as module.enableCompileCache and Node 20 does not. Imports only Node built-ins: it runs first.
//
// The cache is code, so it is only read from a folder of this user's that nobody else may enter, from a
// file of this user's that nobody else may write; anything else is ignored, never an error. Its
// name carries the bundle's hash, Node's version and the command, because V8 checks only the
// source's length before trusting a cache (SerializedCodeData::SourceHash in V8's code-serializer.cc).
import { closeSync, constants as C, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

const DIST = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.join(DIST, 'cli.bundle.cjs');
const MANIFEST = path.join(DIST, 'cli.bundle.json');
const MAX_CACHE = 64 * 1024 * 1024;

/** The bundle's hash, when it is there and no older than the modules it was built from. */
function bundleId(): string | undefined {
  // XSOAR_CERT_DEBUG: stack traces name the real files. XSOAR_CERT_NO_BUNDLE: the modules, for comparison.
  if (process.env.XSOAR_CERT_DEBUG === '1' || process.env.XSOAR_CERT_NO_BUNDLE === '1') return undefined;
  try {
    // A `tsc` alone leaves the bundle behind the modules: run the modules then.
    if (statSync(BUNDLE).mtimeMs < statSync(path.join(DIST, 'cli', 'main.js')).mtimeMs) return undefined;
    const id = (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { sha256?: unknown }).sha256;
    return typeof id === 'string' && /^[0-9a-f]{64}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

function cacheFolder(): string | undefined {
  const base = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || homedir(), '.cache');
  if (!path.isAbsolute(base)) return undefined; // XDG Base Directory spec: a relative path is invalid
  const dir = path.join(base, 'xsoar-cert');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const ours = st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0;
    return ours ? dir : undefined;
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
    if (!st.isFile() || st.uid !== process.getuid?.() || st.mode & 0o022 || st.size > MAX_CACHE) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Written whole under a private name, then renamed; caches of other builds go. Failure is only slower. */
function writeCache(dir: string, file: string, data: Buffer, prefix: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
    for (const f of readdirSync(dir))
      if (f.endsWith('.v8cache') && !f.startsWith(prefix)) unlinkSync(path.join(dir, f));
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
  }
}

function runBundle(id: string): void {
  const source = readFileSync(BUNDLE, 'utf8');
  const dir = cacheFolder();
  // One cache per command: each holds the functions its command ran (V8 compiles lazily).
  const command = /^[a-z][a-z-]{0,23}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
  const prefix = `${id.slice(0, 16)}-`;
  const file = dir && path.join(dir, `${prefix}${process.version}-${process.arch}-${command}.v8cache`);
  const cachedData = file ? readCache(file) : undefined;
  const script = new Script(`(function (require, module, exports, __xsoarCertUrl) {${source}\n})`, {
    filename: BUNDLE,
    cachedData,
  });
  if (dir && file && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', () => writeCache(dir, file, script.createCachedData(), prefix));
  }
  const module = { exports: {} };
  const url = pathToFileURL(BUNDLE).href;
  (script.runInThisContext() as (...a: unknown[]) => void)(createRequire(url), module, module.exports, url);
}

// `--version` needs one small module, not the bundle (see the start-up bench).
const version = process.argv.length === 3 && ['--version', '-V'].includes(process.argv[2]!);
const id = version ? undefined : bundleId();
if (version) {
  // `xsoar-cert --version | head -c0`: a closed pipe is the reader's choice (as in cli/main.ts).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
  process.stdout.write((await import('./version.js')).VERSION + '\n');
} else if (id) runBundle(id);
else await import('./cli/main.js');
