// The PEM-files target's state, in the state dir (through state-dir.ts, which checks owner, mode
// and links): one record per set of files (its paths, restart command, endpoint, and the previous
// versions kept, newest first) and one 0600 file per previous version holding the files' bytes,
// owner and mode. Everything read back is checked first: the record decides what a later run
// writes to disk and which command it runs.
import { InputError } from '../../../errors.js';
import {
  ensureStateFolder,
  readStateFile,
  removeQuietly,
  stateFolder,
  tenantFile,
  writeStateFile,
} from '../../../state-dir.js';
import { FILES_NS, type BackupEntry, type FileWrite, type VerbatimFile } from './plan.js';

export interface FilesRecord {
  v: 1;
  id: string;
  cert: string;
  key?: string;
  restartCmd?: string;
  endpoint?: string;
  servername?: string;
  /** Newest first, one per distinct version. */
  backups: BackupEntry[];
}

export interface BackupFile {
  v: 1;
  name: string;
  digest: string;
  fingerprint?: string;
  files: { role: FileWrite['role']; data: string; uid: number; gid: number; mode: number }[];
}

const SUB = 'files';
const recordPath = (id: string) => tenantFile(SUB, FILES_NS, id, 'json');
const backupPath = (name: string) => tenantFile(SUB, FILES_NS, name, 'backup.json');

const isText = (v: unknown, max = 4096): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max && !/[\x00-\x1f\x7f]/.test(v);
const isPath = (v: unknown): v is string => isText(v) && (v as string).startsWith('/');
const isId = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 2 ** 32;
const isHex64 = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isFp = (v: unknown) => v === undefined || (typeof v === 'string' && /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(v));
const ROLES = ['cert', 'key', 'combined'];

function isEntry(b: Partial<BackupEntry>, id: string): boolean {
  const nameOk = typeof b.name === 'string' && new RegExp(`^${id}-prev-\\d{14}-[a-z0-9]{4}$`).test(b.name);
  return nameOk && isHex64(b.digest) && isFp(b.fingerprint) && isText(b.savedAt, 40);
}

/** The first field of a record that cannot be trusted, or undefined. */
function badRecordField(r: Partial<FilesRecord>, id: string): string | undefined {
  const checks: [string, boolean][] = [
    ['v', r.v === 1],
    ['id', r.id === id],
    ['cert', isPath(r.cert)],
    ['key', r.key === undefined || isPath(r.key)],
    ['restartCmd', r.restartCmd === undefined || isText(r.restartCmd)],
    ['endpoint', r.endpoint === undefined || isText(r.endpoint, 300)],
    ['servername', r.servername === undefined || isText(r.servername, 253)],
    [
      'backups',
      Array.isArray(r.backups) && r.backups.length <= 64 && r.backups.every((b) => isEntry(b as BackupEntry, id)),
    ],
  ];
  return checks.find(([, ok]) => !ok)?.[0];
}

function damaged(file: string, what: string, bad: string): never {
  throw new InputError(`${file}: this ${what} is damaged (its ${bad} is not valid): nothing was changed`, {
    file,
    hint: 'Look at it, check the files it names, then delete it (its previous versions are then forgotten).',
  });
}

function parse<T>(text: string): Partial<T> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Partial<T>) : undefined;
  } catch {
    return undefined;
  }
}

/** The record of a set of files, or undefined when none was written yet. */
export function readRecord(id: string): FilesRecord | undefined {
  if (!stateFolder(SUB, false)) return undefined;
  const file = recordPath(id);
  const text = readStateFile(file, { maxBytes: 256 * 1024, what: 'record of certificate files' });
  if (text === undefined) return undefined;
  const r = parse<FilesRecord>(text);
  const bad = r ? badRecordField(r, id) : 'JSON';
  if (bad) damaged(file, 'record of certificate files', bad);
  return r as FilesRecord;
}

export function writeRecord(r: FilesRecord): void {
  ensureStateFolder(SUB);
  writeStateFile(recordPath(r.id), JSON.stringify(r, null, 2));
}

/** Keep a previous version: 0600, created whole (state-dir.ts writes under a temporary name, then renames). */
export function writeBackup(b: BackupFile): void {
  ensureStateFolder(SUB);
  writeStateFile(backupPath(b.name), JSON.stringify(b));
}

/** A previous version's files, checked; undefined when it is not there. */
export function readBackup(name: string, digest?: string): VerbatimFile[] | undefined {
  if (!stateFolder(SUB, false)) return undefined;
  const file = backupPath(name);
  const text = readStateFile(file, { secret: true, maxBytes: 8 * 1024 * 1024, what: 'kept previous version' });
  if (text === undefined) return undefined;
  const b = parse<BackupFile>(text);
  const filesOk =
    Array.isArray(b?.files) &&
    b.files.length >= 1 &&
    b.files.length <= 2 &&
    b.files.every(
      (f) => ROLES.includes(f.role) && typeof f.data === 'string' && isId(f.uid) && isId(f.gid) && isId(f.mode),
    );
  const bad = !b
    ? 'JSON'
    : b.name !== name
      ? 'name'
      : !filesOk
        ? 'files'
        : digest && b.digest !== digest
          ? 'digest'
          : '';
  if (bad) damaged(file, 'kept previous version', bad);
  return b!.files!.map((f) => ({ ...f, data: Buffer.from(f.data, 'base64'), mode: f.mode & 0o777 }));
}

export const removeBackup = (name: string) => removeQuietly(backupPath(name));
