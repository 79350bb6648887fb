// The audit log's anchor outside the file. A hash chain alone shows an edited record, but not a log
// cut short, emptied, or rewritten whole with every hash recomputed: whoever can write the file can
// do that. So every change the engine makes to a secret also writes, in the same write, the chain's
// head as it was when the change was planned, and the id of the run; `audit --verify` then checks
// that the local log still holds that head and, after it, the record of that run. A local user who
// rewrites the log cannot rewrite the cluster's annotations without cluster rights of their own.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { GENESIS, lastHash, auditFile, type AuditRecord } from './log.js';

export const ANCHOR_ANNOTATION = 'xsoar-cert.io/audit-head';

export interface Anchor {
  /** Which log (host, user, file): another admin's log anchors in the same secret are not ours to check. */
  log: string;
  /** The hash of the log's last record when the change was planned (GENESIS: the log was empty). */
  head: string;
  /** The run that made the change: its record must follow `head`. */
  run: string;
  at: string;
}

/** This user's log on this host, as named in anchors. */
export function logId(file = auditFile()): string {
  return createHash('sha256')
    .update(`${hostname()}\0${process.getuid?.() ?? ''}\0${path.resolve(file)}`)
    .digest('hex')
    .slice(0, 16);
}

/** The anchor a change planned now by run `run` writes (the log's tail is read, not the whole log). */
export function currentAnchor(run: string, now = new Date()): string {
  const file = auditFile();
  return JSON.stringify({ log: logId(file), head: lastHash(file), run, at: now.toISOString() } satisfies Anchor);
}

export function parseAnchor(value: string | undefined): Anchor | undefined {
  if (!value || value.length > 512) return undefined;
  try {
    const a = JSON.parse(value) as Anchor;
    const ok =
      /^[0-9a-f]{16}$/.test(a.log) &&
      /^[0-9a-f]{64}$/.test(a.head) &&
      /^[0-9a-f]{1,64}$/.test(a.run) &&
      typeof a.at === 'string' &&
      !Number.isNaN(Date.parse(a.at));
    return ok ? a : undefined;
  } catch {
    return undefined;
  }
}

/** One anchor as found in the cluster: which secret carries it. */
export interface FoundAnchor {
  namespace: string;
  secret: string;
  /** The secret the change was made to (a previous version carries the anchor of the secret it copies). */
  of: string;
  value: string;
}

export interface AnchorCheck {
  checked: number;
  /** Anchors written by other logs (another user or host): not comparable with this one. */
  foreign: number;
  problems: string[];
}

/**
 * Pure: compare the local records with the anchors found. An anchor of this log must name a record
 * the log holds (or the empty log), and the record of its run for that secret must come after it.
 * `pending(ns, secret)`: a run was killed there and its record is still owed by the next run.
 */
export function checkAnchors(
  records: AuditRecord[],
  found: FoundAnchor[],
  id: string,
  pending: (ns: string, secret: string) => boolean = () => false,
): AnchorCheck {
  const at = new Map(records.map((r, i) => [r.hash, i]));
  const problems = new Set<string>();
  let checked = 0;
  let foreign = 0;
  for (const f of found) {
    const a = parseAnchor(f.value);
    if (!a) {
      problems.add(`${f.namespace}/${f.secret}: its audit anchor is damaged`);
      continue;
    }
    if (a.log !== id) {
      foreign++;
      continue;
    }
    checked++;
    const change = f.of === f.secret ? 'change' : `change of ${f.of}`;
    const where = `${f.namespace}/${f.secret} (the ${change} by run ${a.run} at ${a.at})`;
    const idx = a.head === GENESIS ? -1 : at.get(a.head);
    if (idx === undefined) {
      problems.add(
        `${where} was made when the log ended with record ${a.head.slice(0, 12)}…, which the log no longer holds: ` +
          'records were removed or rewritten',
      );
    } else if (
      !records.slice(idx + 1).some((r) => r.run === a.run && r.namespace === f.namespace && r.secret === f.of) &&
      !pending(f.namespace, f.of)
    ) {
      problems.add(`${where} has no record in the log: its record was removed`);
    }
  }
  return { checked, foreign, problems: [...problems] };
}
