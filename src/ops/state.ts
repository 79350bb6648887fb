// Local state, all in the state dir (0700, checked by state-dir.ts): the per-secret lock (one run
// at a time) and the transaction marker that a run killed with SIGKILL leaves behind. No key
// material. Both are read back as untrusted input: every field is checked before it is used.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { BusyError, InputError } from '../errors.js';
import { isK8sName } from '../k8s/names.js';
import {
  createStateFile,
  ensureStateFolder,
  readStateFile,
  removeQuietly,
  stateFolder,
  tenantFile,
  writeStateFile,
} from '../state-dir.js';

/** The state dir (or its `sub` folder), created 0700 if needed, refused when another user could write it. */
export const ensureStateDir = (sub?: string): string => ensureStateFolder(sub);

/**
 * Before a change: the locks and markers folders must take files, or a run could not leave the
 * marker that lets the next run finish it after a kill. Read-only commands (status) never call it.
 */
export function assertStateWritable(): void {
  for (const sub of ['locks', 'markers']) {
    const probe = path.join(ensureStateDir(sub), `.probe-${process.pid}`);
    writeStateFile(probe, '');
    removeQuietly(probe);
  }
}

/** Fields of /proc/PID/stat after the command name, or undefined where /proc is not there. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * When process `pid` started (clock ticks since boot, /proc/PID/stat field 22), or undefined where
 * /proc is not there. With the pid it names one process: a pid is reused after a reboot or wrap.
 */
export const procStart = (pid: number): string | undefined => procStat(pid)?.[19];

// Read once: a fleet's markers asked /proc for it once per tenant (20 ms per 100 tenants).
let ownStart: string | undefined;
/** This process, as recorded in locks and markers. */
export const self = () => ({ pid: process.pid, pidStart: (ownStart ??= procStart(process.pid)) });

/**
 * Is the process that wrote a lock or marker still running? A live pid with another start time is
 * another process; a zombie (state Z, or X: dead, not yet reaped; proc(5)) will never finish its work.
 */
export function pidAlive(pid: number, pidStart?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (stat && (stat[0] === 'Z' || stat[0] === 'X')) return false;
  if (pidStart === undefined || stat === undefined) return true;
  return stat[19] === pidStart;
}

/**
 * A local lock older than this is stale whoever wrote it: a lock written under another hostname (a
 * container that restarted) cannot be checked by pid, and no run holds one this long (the rollouts
 * are bounded by --timeout, at most 3600 s each; ACME by its own deadlines).
 */
export const LOCAL_LOCK_MAX_AGE_MS = 6 * 3600_000;

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

const isPid = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isTicks = (v: unknown) => v === undefined || (typeof v === 'string' && /^\d{1,20}$/.test(v));
const isDate = (v: unknown): v is string => typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));
const isWord = (v: unknown, max = 255): v is string =>
  typeof v === 'string' && v.length <= max && /^[\x21-\x7e]+$/.test(v);
const isFingerprint = (v: unknown) => typeof v === 'string' && /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(v);

/** A lock file's content, or undefined when it is not a lock this program wrote (stale or damaged). */
function parseLockInfo(text: string | undefined): LockInfo | undefined {
  try {
    const l = JSON.parse(text ?? '') as LockInfo;
    return isPid(l.pid) && isTicks(l.pidStart) && isWord(l.host) && isDate(l.since) && isWord(l.op, 32) ? l : undefined;
  } catch {
    return undefined;
  }
}

function lockIsLive(held: LockInfo, now = Date.now()): boolean {
  if (!(now - Date.parse(held.since) < LOCAL_LOCK_MAX_AGE_MS)) return false; // too old, or dated in the future
  return held.host !== hostname() || pidAlive(held.pid, held.pidStart);
}

/** Take the lock for ns/secret or throw BusyError naming the holder; a dead holder's lock is taken over. */
export function acquireLock(namespace: string, secret: string, op: string): Lock {
  ensureStateDir('locks');
  const file = tenantFile('locks', namespace, secret, 'lock');
  const info: LockInfo = { ...self(), host: hostname(), since: new Date().toISOString(), op };
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createStateFile(file, JSON.stringify(info))) {
      return {
        release: () => {
          if (parseLockInfo(readStateFile(file))?.pid === process.pid) removeQuietly(file);
        },
      };
    }
    const held = parseLockInfo(readStateFile(file)); // undefined: damaged, or a crashed run's torn write: stale
    // Re-entrant: renew holds the lock for its whole run and then calls the transaction.
    if (held && held.pid === process.pid && held.host === hostname()) return { release: () => undefined };
    if (held && lockIsLive(held)) {
      throw new BusyError(
        `another xsoar-cert run (${held.op}, pid ${held.pid} on ${held.host}) ` +
          `holds the lock for ${namespace}/${secret} since ${held.since}`,
        `Wait for it to finish; if that process is gone, remove ${file}`,
      );
    }
    removeQuietly(file); // stale: its process is dead, or it is older than any run
  }
  throw new BusyError(`could not take the lock for ${namespace}/${secret}`);
}

const STEPS = ['backup', 'apply', 'restart', 'confirm', 'rollback', 'confirmed'] as const;
const OPS = ['install', 'rollback', 'renew'] as const;

export interface Marker {
  pid: number;
  /** The start time of `pid` (see procStart): a reused pid is not the run that wrote the marker. */
  pidStart?: string;
  op: (typeof OPS)[number];
  namespace: string;
  secret: string;
  context?: string;
  backupName: string;
  oldFingerprint?: string;
  newFingerprint: string;
  deployments: string[];
  /** 'confirmed': the change is live and confirmed, only its audit record may be missing. */
  step: (typeof STEPS)[number];
  startedAt: string;
  /** The in-cluster lock value this run writes with its replace (cluster-lock.ts): the next run releases it. */
  lock?: string;
}

/** Where the marker of ns/secret lives (no folder is created: reading must work on a read-only state dir). */
export const markerFile = (ns: string, secret: string) => tenantFile('markers', ns, secret, 'json');

export function writeMarker(m: Marker): void {
  writeMarkers([m]);
}

/** The markers of a fleet's step, the folder checked once for all of them. */
export function writeMarkers(ms: Marker[]): void {
  if (ms.length) ensureStateDir('markers');
  for (const m of ms) writeStateFile(markerFile(m.namespace, m.secret), JSON.stringify(m, null, 2));
}

/**
 * The first field of a marker that cannot be trusted, or undefined. A marker decides what the next
 * run writes to the cluster (the backup it restores, the deployments it restarts), so it must name
 * this very secret, its own backups and valid names only.
 */
function badMarkerField(m: Partial<Marker>, ns: string, secret: string): string | undefined {
  const checks: [keyof Marker, boolean][] = [
    ['pid', isPid(m.pid)],
    ['pidStart', isTicks(m.pidStart)],
    ['op', OPS.includes(m.op as Marker['op'])],
    ['namespace', m.namespace === ns],
    ['secret', m.secret === secret],
    ['context', m.context === undefined || isK8sName('context', m.context)],
    ['backupName', isK8sName('secret', m.backupName) && m.backupName.startsWith(`${secret}-prev-`)],
    ['oldFingerprint', m.oldFingerprint === undefined || isFingerprint(m.oldFingerprint)],
    ['newFingerprint', isFingerprint(m.newFingerprint)],
    [
      'deployments',
      Array.isArray(m.deployments) &&
        m.deployments.length <= 64 &&
        m.deployments.every((d) => isK8sName('deployment', d)),
    ],
    ['step', STEPS.includes(m.step as Marker['step'])],
    ['startedAt', isDate(m.startedAt)],
    ['lock', m.lock === undefined || (typeof m.lock === 'string' && m.lock.length <= 1024)],
  ];
  return checks.find(([, ok]) => !ok)?.[0];
}

export function readMarker(ns: string, secret: string): Marker | undefined {
  const file = markerFile(ns, secret);
  if (!stateFolder('markers', false)) return undefined; // no interrupted run (no markers folder at all)
  const text = readStateFile(file, { maxBytes: 64 * 1024 });
  if (text === undefined) return undefined;
  let m: Partial<Marker> | undefined;
  try {
    m = JSON.parse(text) as Partial<Marker>;
  } catch {
    m = undefined;
  }
  const bad = m && typeof m === 'object' ? badMarkerField(m, ns, secret) : 'JSON';
  if (bad) {
    // Written by rename, so never torn: damaged by hand, or planted. Not guessed at: the admin decides.
    throw new InputError(
      `${file}: the marker of an interrupted ${ns}/${secret} run is damaged (its ${bad} is not valid)`,
      {
        file,
        hint:
          'Look at it, check the secret and its previous versions ' +
          `(kubectl get secrets -n ${ns} -l xsoar-cert.io/previous-of=${secret}), ` +
          'roll back by hand if needed, then delete this file.',
      },
    );
  }
  return m as Marker;
}

export function clearMarker(ns: string, secret: string): void {
  removeQuietly(markerFile(ns, secret));
}
