// The PEM-files target, disk side: read the installed files (bounded, no links), resolve --owner,
// and write a file atomically: a temporary file in the same folder created 0600 with O_EXCL,
// given its final owner and mode before a byte is written, fsynced, renamed over the old one, and
// the folder fsynced (rename(2) is atomic; the folder's fsync makes the rename itself durable).
import {
  closeSync,
  constants as C,
  fchmodSync,
  fchownSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../../../errors.js';
import { pidAlive } from '../../state.js';
import type { FileWrite, FoundFile, Owner } from './plan.js';
import { stopPoint } from './stop-point.js';

const MAX_FILE = 1024 * 1024;

function cannot(file: string, why: string, hint: string): never {
  throw new InputError(`${file}: ${why}: nothing was changed`, { file, hint });
}

/** An installed file: a regular file (a link is refused: the rename would replace the link, not its target). */
export function readFound(file: string): FoundFile {
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'I/O error';
    cannot(file, `cannot be read (${code})`, 'Check the path given with --files; the file must exist already.');
  }
  if (st.isSymbolicLink())
    cannot(file, 'is a symbolic link', 'Pass the file it points to with --files (the change is written there).');
  if (!st.isFile()) cannot(file, 'is not a regular file', 'Check the path given with --files.');
  if (st.size > MAX_FILE) cannot(file, `is ${st.size} bytes, more than a PEM file holds`, 'Check --files.');
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'I/O error';
    cannot(file, `cannot be read (${code})`, 'Run as a user who may read and replace it (usually root).');
  }
  return { path: file, bytes, uid: st.uid, gid: st.gid, mode: st.mode & 0o777 };
}

/** One colon-separated database (/etc/passwd, /etc/group): name → id (field 3), bounded. */
function idsFrom(file: string): Map<string, number> {
  const out = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8').slice(0, 4 * 1024 * 1024);
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2]!)) out.set(f[0]!, Number(f[2]));
  }
  return out;
}

/** --owner USER:GROUP as ids (names from /etc/passwd and /etc/group, or numbers). */
export function lookupOwner(o: { user: string; group: string }): Owner {
  const id = (name: string, db: string, what: string) => {
    if (/^\d+$/.test(name)) return Number(name);
    const v = idsFrom(db).get(name);
    if (v === undefined)
      throw new InputError(`--owner: ${what} "${name}" not found in ${db}: nothing was changed`, {
        file: db,
        hint: 'Create it first, or pass numeric ids (--owner UID:GID).',
      });
    return v;
  };
  return { ...o, uid: id(o.user, '/etc/passwd', 'user'), gid: id(o.group, '/etc/group', 'group') };
}

/** Only root gives a file away; anyone else may write files as itself and a group it is in (chown(2)). */
export function assertMayChown(w: FileWrite): void {
  const uid = process.getuid?.();
  if (uid === undefined || uid === 0) return;
  if (w.uid === uid && (w.gid === process.getgid?.() || process.getgroups?.().includes(w.gid))) return;
  cannot(
    w.path,
    `only root can write it as uid ${w.uid}, gid ${w.gid} (this user is uid ${uid})`,
    'Run xsoar-cert as root (sudo), or pass --owner with your own user and group.',
  );
}

const TMP = /^\.(.+)\.xsoar-cert-(\d+)-[0-9a-f]{8}\.tmp$/;

/** Write one file whole, never readable by anyone but its final owner and group along the way. */
export function writeAtomic(w: FileWrite): void {
  const dir = path.dirname(w.path);
  const tmp = path.join(
    dir,
    `.${path.basename(w.path)}.xsoar-cert-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
  try {
    fchownSync(fd, w.uid, w.gid);
    fchmodSync(fd, w.mode); // after the chown: the group that may read it is the final one
    let n = 0;
    while (n < w.data.length) n += writeSync(fd, w.data, n);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  } finally {
    try {
      closeSync(fd);
    } catch {
      // closed above on failure
    }
  }
  stopPoint(`${w.role}-temp`);
  renameSync(tmp, w.path);
  syncFolder(dir);
  stopPoint(`${w.role}-renamed`);
}

export function syncFolder(dir: string): void {
  const fd = openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Temporary files a killed run left beside `file` (its pid gone): removed, they hold a copy of the key. */
export function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = TMP.exec(n);
    if (!m || m[1] !== path.basename(file) || pidAlive(Number(m[2]))) continue;
    try {
      unlinkSync(path.join(dir, n));
    } catch {
      // gone already
    }
  }
}
