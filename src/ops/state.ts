// Local state, all in the state dir (0700): the per-secret lock (one run at a time) and
// the transaction marker that a run killed with SIGKILL leaves behind. No key material.
import { accessSync, constants, mkdirSync, openSync, closeSync, writeSync, readFileSync, unlinkSync, writeFileSync, renameSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { BusyError, InputError } from '../errors.js';
import { stateDir } from './settings.js';

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/** The state dir (or its `sub` folder), created 0700 if needed; an unusable one is an input error naming it. */
export function ensureStateDir(sub?: string): string {
  const d = sub ? path.join(stateDir(), sub) : stateDir();
  try {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    if (!statSync(d).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(d, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'I/O error';
    const why = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'is not writable by this user' : code === 'ENOTDIR' || code === 'EEXIST' ? 'is (or is inside) a file, not a folder' : `cannot be used (${code})`;
    throw new InputError(`${d}: the xsoar-cert state folder ${why} (${code}): nothing was changed`, {
      file: d,
      hint: 'Run as the user who owns it, fix its permissions, or set XSOAR_CERT_STATE_DIR to a folder you own.',
    });
  }
  return d;
}

/**
 * Before a change: the locks and markers folders must take files, or a run could not leave the
 * marker that lets the next run finish it after a kill. Read-only commands (status) never call it.
 */
export function assertStateWritable(): void {
  for (const sub of ['locks', 'markers']) {
    const d = ensureStateDir(sub);
    const probe = path.join(d, `.probe-${process.pid}`);
    try {
      writeFileSync(probe, '', { mode: 0o600 });
      unlinkSync(probe);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'I/O error';
      throw new InputError(`${d}: the xsoar-cert state folder is not writable (${code}): nothing was changed`, { file: d, hint: 'Run as the user who owns it, fix its permissions, or set XSOAR_CERT_STATE_DIR to a folder you own.' });
    }
  }
}

/**
 * When process `pid` started (clock ticks since boot, /proc/PID/stat field 22), or undefined where
 * /proc is not there. With the pid it names one process: a pid is reused after a reboot or wrap.
 */
export function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** This process, as recorded in locks and markers. */
export const self = () => ({ pid: process.pid, pidStart: procStart(process.pid) });

/** Is the process that wrote a lock or marker still running? A live pid with another start time is another process. */
export function pidAlive(pid: number, pidStart?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (pidStart === undefined) return true;
  const now = procStart(pid);
  return now === undefined || now === pidStart;
}

interface LockInfo {
  pid: number;
  pidStart?: string;
  host: string;
  since: string;
  op: string;
}

export interface Lock {
  release(): void;
}

/** Take the lock for ns/secret or throw BusyError naming the holder; a dead holder's lock is taken over. */
export function acquireLock(namespace: string, secret: string, op: string): Lock {
  const file = path.join(ensureStateDir('locks'), `${safe(namespace)}__${safe(secret)}.lock`);
  const info: LockInfo = { ...self(), host: hostname(), since: new Date().toISOString(), op };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      return { release: () => { try { if ((JSON.parse(readFileSync(file, 'utf8')) as LockInfo).pid === process.pid) unlinkSync(file); } catch { /* already gone */ } } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let held: LockInfo | undefined;
      try {
        held = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
      } catch {
        held = undefined; // torn write by a crashed run: stale
      }
      // Re-entrant: renew holds the lock for its whole run and then calls the transaction.
      if (held && held.pid === process.pid && held.host === hostname()) return { release: () => undefined };
      if (held && (held.host !== hostname() || pidAlive(held.pid, held.pidStart))) {
        throw new BusyError(`another xsoar-cert run (${held.op}, pid ${held.pid} on ${held.host}) holds the lock for ${namespace}/${secret} since ${held.since}`, 'Wait for it to finish; if that process is gone, remove ' + file);
      }
      unlinkSync(file); // stale: its process is dead
    }
  }
  throw new BusyError(`could not take the lock for ${namespace}/${secret}`);
}

export interface Marker {
  pid: number;
  /** The start time of `pid` (see procStart): a reused pid is not the run that wrote the marker. */
  pidStart?: string;
  op: string;
  namespace: string;
  secret: string;
  context?: string;
  backupName: string;
  oldFingerprint?: string;
  newFingerprint: string;
  deployments: string[];
  /** 'confirmed': the change is live and confirmed, only its audit record may be missing. */
  step: 'backup' | 'apply' | 'restart' | 'confirm' | 'rollback' | 'confirmed';
  startedAt: string;
  /** The in-cluster lock value this run writes with its replace (cluster-lock.ts): the next run releases it. */
  lock?: string;
}

/** Where the marker of ns/secret lives (no folder is created: reading must work on a read-only state dir). */
export const markerFile = (ns: string, secret: string) => path.join(stateDir(), 'markers', `${safe(ns)}__${safe(secret)}.json`);

export function writeMarker(m: Marker): void {
  ensureStateDir('markers');
  const f = markerFile(m.namespace, m.secret);
  writeFileSync(f + '.tmp', JSON.stringify(m, null, 2), { mode: 0o600 });
  renameSync(f + '.tmp', f);
}

export function readMarker(ns: string, secret: string): Marker | undefined {
  const file = markerFile(ns, secret);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // no interrupted run (no markers folder at all)
    throw new InputError(`${file}: cannot read the marker of an interrupted run (${(err as NodeJS.ErrnoException).code ?? 'I/O error'})`, { file });
  }
  try {
    return JSON.parse(text) as Marker;
  } catch {
    // Written by rename, so never torn: damaged by hand. Not guessed at: the admin decides.
    throw new InputError(`${file}: the marker of an interrupted ${ns}/${secret} run is damaged`, { file, hint: `Look at it, check the secret and its previous versions (kubectl get secrets -n ${ns} -l xsoar-cert.io/previous-of=${secret}), roll back by hand if needed, then delete this file.` });
  }
}

export function clearMarker(ns: string, secret: string): void {
  try {
    unlinkSync(markerFile(ns, secret));
  } catch {
    /* not there */
  }
}
