// The PEM-files target, pure part: the flags (--files, --mode, --owner), what each file will hold
// and with which owner and mode, whether the service that reads the files today can still read
// them, the previous versions kept (distinct only, the three newest) and the state record read
// back from the state dir. No I/O here: steps.ts, store.ts and index.ts do it.
import { createHash } from 'node:crypto';
import { InputError, NameChangeError, UsageError } from '../../../errors.js';
import { hasControl, quoted } from '../../../printable.js';
import type { NewContent } from '../../txn/types.js';

/** The tenant namespace a file target is recorded under (audit, markers, locks): `audit -n files`. */
export const FILES_NS = 'files';
/** Previous versions kept per set of files (README install, step 3: the three newest distinct). */
export const KEEP = 3;

export interface FilePaths {
  cert: string;
  /** Absent: one combined PEM (certificate chain, then the key), HAProxy's `crt` layout. */
  key?: string;
}

export interface Modes {
  cert: number;
  key: number;
}

export interface Owner {
  user: string;
  group: string;
  uid: number;
  gid: number;
}

/** One file as found on disk (before the change). */
export interface FoundFile {
  path: string;
  bytes: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

/** One file as it will be written. */
export interface FileWrite {
  path: string;
  role: 'cert' | 'key' | 'combined';
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

/** --files CERT,KEY or --files COMBINED. */
export function parseFilesFlag(value: string): FilePaths {
  const parts = value.split(',');
  if (parts.length > 2 || parts.some((p) => !p.trim()) || hasControl(value))
    throw new UsageError(
      `--files ${quoted(value)}: expected CERT_PATH,KEY_PATH or one combined PEM path`,
      'Example: --files /etc/nginx/tls/cert.pem,/etc/nginx/tls/cert.key',
    );
  const [cert, key] = parts.map((p) => p.trim());
  if (key !== undefined && key === cert)
    throw new UsageError(`--files ${quoted(value)}: the certificate and the key must be two files (or give one path)`);
  return { cert: cert!, ...(key !== undefined ? { key } : {}) };
}

const modeOf = (s: string) => (/^0?[0-7]{3}$/.test(s) ? parseInt(s, 8) : undefined);

/** --mode CERT,KEY (octal, e.g. 0640,0600) or one mode for a combined file. A key is never readable by others. */
export function parseModeFlag(value: string, combined: boolean): Modes {
  const parts = value.split(',').map((s) => s.trim());
  const modes = parts.map(modeOf);
  const expected = combined ? 'one octal mode (e.g. 0600)' : 'CERT,KEY octal modes (e.g. 0640,0600)';
  if (modes.some((m) => m === undefined) || parts.length > (combined ? 1 : 2))
    throw new UsageError(`--mode ${quoted(value)}: expected ${expected}`);
  const [cert, key = 0o600] = modes as number[];
  const m = combined ? { cert: cert!, key: cert! } : { cert: cert!, key };
  if (m.key & 0o007)
    throw new UsageError(
      `--mode ${quoted(value)}: the key would be readable by every local user (mode ${oct(m.key)})`,
      'Use 0600 (or 0640 with the service as the group) for the key.',
    );
  if (!(m.cert & 0o400) || !(m.key & 0o400))
    throw new UsageError(`--mode ${quoted(value)}: the owner must be able to read the files`);
  return m;
}

export const oct = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`;

/** --owner USER:GROUP (names or numbers); resolved to ids by the caller (steps.ts lookupOwner). */
export function parseOwnerFlag(value: string): { user: string; group: string } {
  const m = /^([A-Za-z0-9._][A-Za-z0-9._-]{0,31}):([A-Za-z0-9._][A-Za-z0-9._-]{0,31})$/.exec(value);
  if (!m) throw new UsageError(`--owner ${quoted(value)}: expected USER:GROUP (e.g. demisto:demisto)`);
  return { user: m[1]!, group: m[2]! };
}

/** The state name of a set of files: stable for the same paths, an RFC 1123 name (markers and locks need one). */
export function filesId(p: FilePaths): string {
  const h = createHash('sha256')
    .update(`${p.cert}\n${p.key ?? ''}`)
    .digest('hex');
  return `files-${h.slice(0, 12)}`;
}

/** Only the CERTIFICATE blocks of a PEM text, each on its own lines: what XSOAR 6 reads from cert.pem. */
export function certificateBlocks(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => b.replace(/\r\n/g, '\n') + '\n').join('');
}

/** A digest of what a set of files holds (content only): equal digests are the same version. */
export function digestOf(files: { bytes: Buffer }[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(String(f.bytes.length)).update(':').update(f.bytes);
  return h.digest('hex');
}

export interface LayoutInput {
  paths: FilePaths;
  content: NewContent;
  modes: Modes;
  owner: { uid: number; gid: number };
  /** XSOAR 6: cert.pem holds the server certificate, the intermediates, then the CA (its admin guide). */
  withCa?: boolean;
  /** A rollback: the backup's files go back byte for byte, each with its own owner and mode. */
  verbatim?: VerbatimFile[];
}

export interface VerbatimFile {
  role: FileWrite['role'];
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

/** What each file will hold, with its owner and mode. */
export function layout(i: LayoutInput): FileWrite[] {
  const { paths } = i;
  const pathOf = (role: FileWrite['role']) => (role === 'key' ? paths.key! : paths.cert);
  if (i.verbatim) return i.verbatim.map((v) => ({ ...v, path: pathOf(v.role) }));
  const b64 = (k: string) => Buffer.from(i.content.data[k] ?? '', 'base64').toString('utf8');
  const chain = certificateBlocks(b64('tls.crt')) + (i.withCa ? certificateBlocks(b64('ca.crt')) : '');
  const key = b64('tls.key');
  const { uid, gid } = i.owner;
  if (!paths.key)
    return [{ path: paths.cert, role: 'combined', data: Buffer.from(chain + key), uid, gid, mode: i.modes.key }];
  // The key first: a run killed between the two renames leaves a pair the next run restores whole.
  return [
    { path: paths.key, role: 'key', data: Buffer.from(key), uid, gid, mode: i.modes.key },
    { path: paths.cert, role: 'cert', data: Buffer.from(chain), uid, gid, mode: i.modes.cert },
  ];
}

/** May a process running as `reader` (uid, gid) read a file with this owner and mode? */
export function canRead(reader: { uid: number; gid: number }, f: { uid: number; gid: number; mode: number }): boolean {
  if (reader.uid === 0) return true;
  if (reader.uid === f.uid) return (f.mode & 0o400) !== 0;
  if (reader.gid === f.gid) return (f.mode & 0o040) !== 0;
  return (f.mode & 0o004) !== 0;
}

/**
 * The service reads the files today as their owner (or group): the new files must stay readable
 * by it, or the restart would bring it up without its certificate. Refused before any change.
 */
export function assertServiceCanRead(found: FoundFile[], writes: FileWrite[], ownerFlag: string): void {
  for (const w of writes) {
    const before = found.find((f) => f.path === w.path);
    if (!before || canRead(before, w)) continue;
    throw new InputError(
      `${w.path}: the service reads it today as uid ${before.uid} (gid ${before.gid}); written as uid ${w.uid}, ` +
        `gid ${w.gid}, mode ${oct(w.mode)} it could not read it: nothing was changed`,
      { file: w.path, hint: `Pass --owner ${ownerFlag} with the service's user and group, or fix --mode.` },
    );
  }
}

/** Palette's rule and every client's: the new certificate keeps the names the installed one covers. */
export function assertNamesKept(oldNames: string[], content: NewContent, where: string): void {
  const missing = oldNames.filter((n) => !content.names.includes(n));
  if (!missing.length) return;
  throw new NameChangeError(
    `${content.label} does not cover ${missing.join(', ')}, which the installed certificate covers (${where})`,
    missing,
    'Clients using those names would break. Get a certificate that includes them, ' +
      'or pass --allow-name-change if the names really change.',
  );
}

/** `<id>-prev-<UTC stamp>-<4 random>`: an RFC 1123 name that starts as the engine's marker expects. */
export function backupName(id: string, now: Date, tail: string): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${id}-prev-${stamp}-${tail}`;
}

export interface BackupEntry {
  name: string;
  digest: string;
  fingerprint?: string;
  savedAt: string;
}

/** The backup that already holds `digest` (a version is kept once), or undefined. */
export const sameVersion = (backups: BackupEntry[], digest: string) => backups.find((b) => b.digest === digest);

/** The index after keeping `entry`, newest first, one entry per version. */
export function withBackup(backups: BackupEntry[], entry: BackupEntry): BackupEntry[] {
  return [entry, ...backups.filter((b) => b.digest !== entry.digest && b.name !== entry.name)];
}

/** Which backups go: all but the KEEP newest (the index holds distinct versions only). */
export function backupsToPrune(backups: BackupEntry[], keep = KEEP): { kept: BackupEntry[]; pruned: BackupEntry[] } {
  return { kept: backups.slice(0, keep), pruned: backups.slice(keep) };
}
