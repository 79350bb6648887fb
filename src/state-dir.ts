// Where xsoar-cert keeps its local state (locks, markers, the audit log, pending requests, ACME
// accounts), and the only way to touch it. A leaf module, so that ops and audit both reach it
// without importing each other.
//
// The state dir holds what decides what a run does to the cluster (markers, locks) and keys (ACME
// account, pending requests). Another local user who could write there could steer a run or swap
// a key, so a folder or file that is not ours, or that group or others may write, is refused
// rather than used; files are opened without following links, and created whole (written under a
// temporary name in the same folder, then renamed or linked into place). See README "Security".
import {
  closeSync,
  constants as C,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from './errors.js';

export function home(): string {
  // cron may run with HOME unset: os.homedir() falls back to the passwd entry.
  return process.env.HOME || homedir();
}

export function stateDir(): string {
  return (
    process.env.XSOAR_CERT_STATE_DIR ||
    path.join(process.env.XDG_STATE_HOME || path.join(home(), '.local', 'state'), 'xsoar-cert')
  );
}

/** A tenant's file in a state subfolder: NS__SECRET.EXT (RFC 1123 names hold no "_", so "__" separates them). */
export function tenantFile(sub: string, ns: string, secret: string, ext: string): string {
  const safe = (x: string) => x.replace(/[^A-Za-z0-9._-]/g, '_');
  return path.join(stateDir(), sub, `${safe(ns)}__${safe(secret)}.${ext}`);
}

const FIX_HINT =
  'Remove it (or chown it to this user and chmod go-w it), or set XSOAR_CERT_STATE_DIR to a folder you own.';
// Asked once: this process never changes its user.
const myUid = process.getuid?.();

/**
 * Subfolders (locks, markers, renewals) already found ours and closed to others in this fleet run
 * (`withCheckedFolders`). Within a run such a folder cannot change hands: only its owner or root may
 * chmod or chown it, and replacing it needs write access to the state dir, which is checked on every
 * call (its own parent never is, so the state dir itself is not remembered). So a fleet checks each
 * subfolder once instead of for every file: 23 stat calls per tenant of a daily renew. The scope
 * follows the run's own async calls (AsyncLocalStorage); anything else, the tests that chmod
 * between calls included, checks every time.
 */
const checkedFolders = new AsyncLocalStorage<Set<string>>();

/** Run `fn` with each state subfolder checked once (see checkedFolders); a nested call shares the outer scope. */
export function withCheckedFolders<T>(fn: () => Promise<T>): Promise<T> {
  return checkedFolders.getStore() ? fn() : checkedFolders.run(new Set(), fn);
}

/** Why `st` may not be trusted, or undefined: not ours, or writable (for keys: readable) by group or others. */
function untrusted(st: Stats, secretFile = false): string | undefined {
  const me = myUid;
  if (me !== undefined && st.uid !== me) return `is owned by uid ${st.uid}, not by this user (uid ${me})`;
  if (st.mode & 0o022)
    return `is writable by ${st.mode & 0o020 ? 'group' : 'others'} (mode ${(st.mode & 0o777).toString(8)})`;
  if (secretFile && st.mode & 0o077)
    return `holds a key but is readable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

function refuse(p: string, why: string, what = 'xsoar-cert state'): never {
  throw new InputError(`${p}: this ${what} ${why}: refusing to use it, nothing was changed`, {
    file: p,
    hint: FIX_HINT,
  });
}

function ioError(p: string, err: unknown, doing: string): never {
  const code = (err as NodeJS.ErrnoException).code ?? 'I/O error';
  if (code === 'ELOOP') refuse(p, 'is a symbolic link');
  const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  const why = denied
    ? `this user may not ${doing}`
    : code === 'ENOTDIR' || code === 'EEXIST'
      ? 'the xsoar-cert state folder is (or is inside) a file, not a folder'
      : `it cannot be used`;
  throw new InputError(`${p}: cannot ${doing}: ${why} (${code}): nothing was changed`, {
    file: p,
    hint: 'Run as the user who owns it, fix its permissions, or set XSOAR_CERT_STATE_DIR to a folder you own.',
  });
}

/** Check one folder of the state: a real folder (not a link), ours, not group/other-writable. */
function checkDir(d: string): void {
  const st = lstatSync(d);
  if (st.isSymbolicLink()) refuse(d, 'is a symbolic link', 'xsoar-cert state folder');
  if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  const why = untrusted(st);
  if (why) refuse(d, why, 'xsoar-cert state folder');
}

/**
 * The state dir (or its `sub` folder), checked; with `create`, made 0700 where missing. Without
 * `create` a missing folder is undefined: reading must work where nothing was ever written.
 */
export function stateFolder(sub?: string, create = true): string | undefined {
  const top = stateDir();
  const dirs = sub ? [top, path.join(top, sub)] : [top];
  const checked = checkedFolders.getStore();
  for (const d of dirs) {
    if (d !== top && checked?.has(d)) continue;
    try {
      if (create) mkdirSync(d, { recursive: true, mode: 0o700 });
      checkDir(d);
      if (d !== top) checked?.add(d);
    } catch (err) {
      if (err instanceof InputError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (!create && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
      ioError(d, err, 'use this state folder');
    }
  }
  return dirs[dirs.length - 1]!;
}

/** `stateFolder(sub)` that always answers (creating it): for writers. */
export const ensureStateFolder = (sub?: string): string => stateFolder(sub, true)!;

/** Open an existing state file for reading without following a link; undefined when it is not there. */
export function openStateFile(
  file: string,
  opts: { secret?: boolean; flags?: number; what?: string } = {},
): number | undefined {
  let fd: number;
  try {
    fd = openSync(file, (opts.flags ?? C.O_RDONLY) | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return ioError(file, err, 'read this state file');
  }
  const st = fstatSync(fd);
  if (st.isDirectory()) {
    closeSync(fd);
    throw new InputError(`${file}: cannot read ${opts.what ?? 'this xsoar-cert state file'} (EISDIR)`, {
      file,
      hint: 'It is a folder: remove or rename it.',
    });
  }
  const why = !st.isFile() ? 'is not a regular file' : untrusted(st, opts.secret);
  if (why) {
    closeSync(fd);
    refuse(file, why);
  }
  return fd;
}

/** A state file's text (bounded), or undefined when it is not there. */
export function readStateFile(
  file: string,
  opts: { secret?: boolean; maxBytes?: number; what?: string } = {},
): string | undefined {
  const fd = openStateFile(file, opts);
  if (fd === undefined) return undefined;
  try {
    const max = opts.maxBytes ?? 1024 * 1024;
    const size = fstatSync(fd).size;
    if (size > max) refuse(file, `is ${size} bytes, more than the ${max} it may hold`);
    const buf = Buffer.alloc(size);
    let n = 0;
    while (n < size) {
      const got = readSync(fd, buf, n, size - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Write `data` under a fresh temporary name beside `file` (0600, O_EXCL, no link followed). Not
 * fsynced: the rename makes it whole against a kill, which is what markers and locks are for.
 */
function writeTemp(file: string, data: string | Buffer): string {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/** Replace (or create) a state file whole: a reader sees the old content or the new, never a mix. */
export function writeStateFile(file: string, data: string | Buffer): void {
  let tmp: string | undefined;
  try {
    tmp = writeTemp(file, data);
    renameSync(tmp, file); // rename replaces a planted link itself, never what it points to
  } catch (err) {
    if (tmp) removeQuietly(tmp);
    ioError(file, err, 'write this state file');
  }
}

/** Create a state file whole, only if it does not exist yet: false when it does (a lock held, an id taken). */
export function createStateFile(file: string, data: string | Buffer): boolean {
  let tmp: string | undefined;
  try {
    tmp = writeTemp(file, data);
    linkSync(tmp, file); // link(2) fails with EEXIST on any existing name, a dangling link included
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    return ioError(file, err, 'create this state file');
  } finally {
    if (tmp) removeQuietly(tmp);
  }
}

/** Open a state file for appending (created 0600 if missing), checked like any other; the caller closes it. */
export function openStateAppend(file: string): number {
  try {
    closeSync(openSync(file, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') ioError(file, err, 'create this state file');
  }
  return (
    openStateFile(file, { flags: C.O_WRONLY | C.O_APPEND }) ?? ioError(file, { code: 'ENOENT' }, 'read this state file')
  );
}

export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** The longest unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * The folder for this user's unix sockets (the kubectl proxy's, which carries the user's cluster
 * credentials): $XDG_RUNTIME_DIR/xsoar-cert when the session has one of ours, else the state dir's
 * `run`. Made 0700 and refused unless only this user may enter it. Where neither can be had (a
 * state dir that is a file: read-only commands still work), a fresh private folder in the temp
 * dir, `temporary`, for the caller to remove. `room`: the socket name's length.
 */
export function runFolder(room: number): { dir: string; temporary: boolean } {
  const xdg = process.env.XDG_RUNTIME_DIR;
  const ours = (d: string) => {
    try {
      const st = lstatSync(d);
      return st.isDirectory() && st.uid === myUid;
    } catch {
      return false;
    }
  };
  let base: string;
  try {
    base =
      xdg && path.isAbsolute(xdg) && ours(xdg) ? path.join(xdg, 'xsoar-cert') : path.join(ensureStateFolder(), 'run');
  } catch {
    return { dir: mkdtempSync(path.join(tmpdir(), 'xsoar-cert-run-')), temporary: true };
  }
  try {
    mkdirSync(base, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') ioError(base, err, 'create this socket folder');
  }
  checkDir(base);
  const mode = lstatSync(base).mode & 0o777;
  if (mode & 0o077)
    refuse(base, `may be entered by group or others (mode ${mode.toString(8)}; it must be 700)`, 'socket folder');
  if (Buffer.byteLength(base) + 1 + room > MAX_SOCKET_PATH)
    throw new InputError(
      `${base}: this socket folder's path is too long for a unix socket (${MAX_SOCKET_PATH} bytes)`,
      {
        file: base,
        hint: 'Set XDG_RUNTIME_DIR or XSOAR_CERT_STATE_DIR to a shorter path.',
      },
    );
  return { dir: base, temporary: false };
}
