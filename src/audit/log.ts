// The audit log: JSON Lines, mode 0600, append-only, each record carrying the hash of the
// previous one, so an edited, removed or reordered record is detected by `audit --verify`; the
// chain's head is also written into the cluster by every change (anchor.ts), so a log cut short,
// emptied or rewritten whole is detected too. Fingerprints only, never key material.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, readSync, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { redact } from '../redact.js';
import { InputError } from '../errors.js';
import {
  createStateFile,
  ensureStateFolder,
  openStateAppend,
  openStateFile,
  readStateFile,
  removeQuietly,
  stateDir,
  stateFolder,
} from '../state-dir.js';

export interface AuditInput {
  /** notify: a renew notification that could not be delivered (result 'notify-failed'). */
  op: 'install' | 'rollback' | 'renew' | 'resolve' | 'notify';
  namespace: string;
  secret: string;
  context?: string;
  oldFingerprint?: string;
  newFingerprint?: string;
  result:
    | 'installed'
    | 'rolled-back'
    | 'rollback-failed'
    | 'failed-preflight'
    | 'refused'
    | 'failed'
    | 'dry-run'
    | 'skipped'
    | 'resolved'
    | 'notify-failed';
  error?: string;
  durationMs: number;
  backup?: string;
  /** The run id of the change (the in-cluster lock's `run`): what the cluster's audit anchor names. */
  run?: string;
  /** For a failure: the exit code the run ended with. */
  exitCode?: number;
  /** Policy lints the admin accepted for this certificate (--accept). */
  accepted?: string[];
}

export interface AuditRecord extends AuditInput {
  v: 1;
  ts: string;
  user: string;
  sshClient: string | null;
  prevHash: string;
  hash: string;
}

/** The log's path; reading needs no folder, and a write creates the state folder (0700) first. */
export const auditFile = () => path.join(stateDir(), 'audit.jsonl');

export const GENESIS = '0'.repeat(64);

/** A log may be long; reading one larger than this is refused rather than filling the memory. */
const MAX_LOG_BYTES = 512 * 1024 * 1024;

/** Hash of the record without its own hash, keys in a fixed order. */
export function recordHash(r: Omit<AuditRecord, 'hash'>): string {
  const canonical = JSON.stringify(
    Object.keys(r)
      .sort()
      .reduce((o, k) => ({ ...o, [k]: (r as Record<string, unknown>)[k] }), {}),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

// Looked up once: os.userInfo() reads /etc/passwd on every call, twice per tenant of a fleet's records.
let user: string | undefined;
function currentUser(): string {
  try {
    return (user ??= userInfo().username);
  } catch {
    return process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  }
}

export function readAudit(file = auditFile()): { records: AuditRecord[]; lines: string[] } {
  const text = stateFolder(undefined, false)
    ? readStateFile(file, { maxBytes: MAX_LOG_BYTES, what: 'the audit log' })
    : undefined;
  if (text === undefined) return { records: [], lines: [] }; // nothing recorded yet
  const lines = text.split('\n').filter((l) => l.trim());
  const parse = (l: string) => {
    try {
      return JSON.parse(l) as AuditRecord;
    } catch {
      return { hash: 'unparseable' } as AuditRecord;
    }
  };
  return { records: lines.map(parse), lines };
}

/** Before a change: the log can be read and appended to, so the record of the change cannot fail afterwards. */
export function assertAuditWritable(): void {
  const file = auditFile();
  ensureStateFolder();
  closeSync(openStateAppend(file));
  lastHash(file); // it can be read, too (only its tail: the log may be long)
}

/**
 * Appends are serialized across processes (cron and an admin, a fleet's workers): reading the
 * last hash and appending the next record happen under an O_EXCL lock file, or two writers chain
 * to the same record and break the log for good. A lock older than 10 s is a crashed writer's.
 */
function withAppendLock<T>(file: string, fn: () => T): T {
  const lock = file + '.lock';
  const until = Date.now() + 10_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (createStateFile(lock, String(process.pid))) break;
    try {
      if (Date.now() - lstatSync(lock).mtimeMs > 10_000) removeQuietly(lock);
    } catch {
      /* released meanwhile */
    }
    if (Date.now() > until)
      throw new InputError(`${lock}: another xsoar-cert run has held the audit log for 10 s`, {
        file: lock,
        hint: 'If no xsoar-cert is running, remove that file.',
      });
    Atomics.wait(pause, 0, 0, 5 + Math.floor(Math.random() * 10)); // a short synchronous sleep
  }
  try {
    return fn();
  } finally {
    removeQuietly(lock);
  }
}

/**
 * The hash of the log's last record, read from the file's tail only: an append costs the same with
 * ten records or a million (a fleet's hundred appends used to re-read and parse the whole log each).
 * What the whole-file read gave: GENESIS for an empty log, "unparseable" for a damaged last line.
 */
export function lastHash(file: string): string {
  const fd = openStateFile(file, { what: 'the audit log' });
  if (fd === undefined) return GENESIS;
  try {
    const size = fstatSync(fd).size;
    for (let chunk = 64 * 1024; ; chunk *= 4) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const lines = buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim());
      // A chunk that does not start the file may begin inside a record: its last line is whole once there are two.
      if (lines.length >= 2 || start === 0) {
        if (!lines.length) return GENESIS;
        try {
          return (JSON.parse(lines[lines.length - 1]!) as AuditRecord).hash;
        } catch {
          return 'unparseable';
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

export function appendAudit(input: AuditInput): AuditRecord {
  return appendAuditMany([input])[0]!;
}

/** Several records, chained in order, under one lock and in one write (a fleet's thousand tenants). */
export function appendAuditMany(inputs: readonly AuditInput[]): AuditRecord[] {
  if (inputs.length === 0) return [];
  const file = auditFile();
  ensureStateFolder();
  return withAppendLock(file, () => appendLocked(file, inputs));
}

function appendLocked(file: string, inputs: readonly AuditInput[]): AuditRecord[] {
  const fd = openStateAppend(file);
  try {
    let prev = lastHash(file);
    const recs = inputs.map((input) => {
      const rec = nextRecord(input, prev);
      prev = rec.hash;
      return rec;
    });
    writeSync(fd, recs.map((r) => JSON.stringify(r) + '\n').join(''));
    return recs;
  } finally {
    closeSync(fd);
  }
}

function nextRecord(input: AuditInput, prevHash: string): AuditRecord {
  const base: Omit<AuditRecord, 'hash'> = {
    v: 1,
    ts: new Date().toISOString(),
    user: currentUser(),
    sshClient: (process.env.SSH_CLIENT ?? process.env.SSH_CONNECTION ?? '').split(' ')[0] || null,
    ...input,
    error: input.error ? redact(input.error) : undefined,
    prevHash,
  };
  return { ...base, hash: recordHash(base) };
}

export interface AuditVerify {
  ok: boolean;
  records: number;
  problem?: { line: number; what: string };
}

export function verifyAudit(file = auditFile()): AuditVerify {
  const { records } = readAudit(file);
  let prev = GENESIS;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const { hash, ...rest } = r;
    if (r.prevHash !== prev)
      return {
        ok: false,
        records: records.length,
        problem: {
          line: i + 1,
          what:
            i === 0
              ? 'the first record does not start the chain (records before it were removed?)'
              : 'does not follow the record before it (a record was removed or reordered)',
        },
      };
    if (recordHash(rest) !== hash)
      return {
        ok: false,
        records: records.length,
        problem: { line: i + 1, what: 'was edited (its hash does not match its content)' },
      };
    prev = hash;
  }
  return { ok: true, records: records.length };
}

export interface AuditFilter {
  namespaces?: string[];
  op?: AuditInput['op'];
  /** Only records at or after this time. */
  since?: Date;
  /** Only records whose result is not a success (installed, resolved, skipped, dry-run). */
  failed?: boolean;
}

/** `--since 7d`, `--since 12h`, `--since 30m` or an ISO date/time; undefined when it is neither. */
export function parseSince(text: string, now = new Date()): Date | undefined {
  const rel = /^(\d+)([dhm])$/.exec(text.trim());
  if (rel)
    return new Date(
      now.getTime() - Number(rel[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as 'd' | 'h' | 'm'],
    );
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : new Date(t);
}

const SUCCESS = new Set<AuditInput['result']>(['installed', 'resolved', 'skipped', 'dry-run']);

/** The records a filter keeps, in log order. Pure. */
export function filterAudit(records: AuditRecord[], f: AuditFilter): AuditRecord[] {
  return records.filter(
    (r) =>
      (!f.namespaces?.length || f.namespaces.includes(r.namespace)) &&
      (!f.op || r.op === f.op) &&
      (!f.since || Date.parse(r.ts) >= f.since.getTime()) &&
      (!f.failed || !SUCCESS.has(r.result)),
  );
}
