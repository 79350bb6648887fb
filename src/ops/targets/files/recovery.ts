// The PEM-files target, recovery: put a kept version back (each file atomically, with its own
// owner and mode), restart, confirm the old certificate is served, and re-read the files before
// saying so; and finish the work of a run that died (SIGKILL, power loss), whose marker the
// engine left in the state dir: a change past the backup is rolled back whole, a change already
// confirmed live only gets its missing audit record.
import { ForeignChangeError, InputError } from '../../../errors.js';
import type { Reporter } from '../../reporter.js';
import { confirmServed } from '../../../net/served-cert.js';
import { acquireLock, clearMarker, pidAlive, readMarker, type Marker } from '../../state.js';
import { appendAudit } from '../../../audit/log.js';
import { parseLock } from '../../cluster-lock.js';
import { fingerprintOfPem } from '../../installed.js';
import { digestOf, FILES_NS, filesId, type FilePaths, type FileWrite, type VerbatimFile } from './plan.js';
import { readFound, removeStaleTemps, writeAtomic } from './steps.js';
import { runRestart } from './restart.js';
import { readBackup, readRecord, removeBackup } from './store.js';
import { stopPoint } from './stop-point.js';

export interface RestoreSpec {
  paths: FilePaths;
  files: VerbatimFile[];
  /** What this run wrote: restore only over that (file by file) or over the kept version itself. */
  ours?: FileWrite[];
  restartCmd?: string;
  endpoint?: string;
  servername?: string;
  /** The kept version's certificate, to confirm it is served again. */
  fingerprint?: string;
  timeoutS: number;
}

const pathOf = (p: FilePaths, role: VerbatimFile['role']) => (role === 'key' ? p.key! : p.cert);
const where = (p: FilePaths) => (p.key ? `${p.cert}, ${p.key}` : p.cert);

/** Each file back to the kept version; throws ForeignChangeError when a file holds someone else's change. */
export async function restoreFiles(spec: RestoreSpec, out: Reporter): Promise<void> {
  out.step(`Rollback: restoring the previous certificate in ${where(spec.paths)}`);
  for (const f of spec.files) {
    const file = pathOf(spec.paths, f.role);
    const now = readFound(file).bytes;
    const mine = spec.ours?.find((w) => w.path === file);
    if (spec.ours && !now.equals(f.data) && !(mine && now.equals(mine.data)))
      throw new ForeignChangeError(
        `${file} now holds another change, not this run's: it was left in place, not rolled back`,
      );
  }
  for (const f of spec.files) writeAtomic({ ...f, path: pathOf(spec.paths, f.role) });
  out.ok('files restored');
  stopPoint('restored');
  if (spec.restartCmd) {
    out.step(`Restart: ${spec.restartCmd}`);
    await out.wait('restarting', runRestart(spec.restartCmd, spec.timeoutS));
    out.ok('restart command done');
  }
  if (spec.endpoint && spec.fingerprint) {
    await out.wait(`handshakes with ${spec.endpoint}`, confirmServed(spec.endpoint, spec.fingerprint, spec.servername));
    out.ok(`${spec.endpoint} serves the previous certificate ${spec.fingerprint} again`);
  }
  const after = spec.files.map((f) => readFound(pathOf(spec.paths, f.role)));
  if (digestOf(after) !== digestOf(spec.files.map((f) => ({ bytes: f.data }))))
    throw new Error(`after the restore ${where(spec.paths)} do not hold the previous version`);
}

type MarkerOptions = {
  endpoint?: string;
  servername?: string;
  timeoutS?: number;
  dryRun?: boolean;
  /** This run's --restart-cmd, before the one the killed run recorded (which may be the one that failed). */
  restartCmd?: string;
};

/** A marker left by a run on these files that died: finish its work; 'running' when its process lives. */
export async function resolveFilesMarker(
  paths: FilePaths,
  out: Reporter,
  opts: MarkerOptions = {},
): Promise<'none' | 'running' | 'resolved' | 'pending'> {
  const id = filesId(paths);
  const m = readMarker(FILES_NS, id);
  if (!m) return 'none';
  if (m.pid !== process.pid && pidAlive(m.pid, m.pidStart)) return 'running';
  const interrupted =
    `an earlier ${m.op} of ${where(paths)} (pid ${m.pid}, started ${m.startedAt}) ` +
    `was interrupted at step "${m.step}"`;
  if (opts.dryRun) {
    out.warn(`${interrupted}; the next real run will finish it (dry run: not resolved now)`);
    return 'pending';
  }
  out.warn(`${interrupted}; resolving it`);
  const lock = acquireLock(FILES_NS, id, 'resolve');
  try {
    await finishInterrupted(paths, id, m, out, opts);
    clearMarker(FILES_NS, id);
    return 'resolved';
  } finally {
    lock.release();
  }
}

async function finishInterrupted(
  paths: FilePaths,
  id: string,
  m: Marker,
  out: Reporter,
  opts: MarkerOptions,
): Promise<void> {
  for (const p of [paths.cert, paths.key]) if (p) removeStaleTemps(p);
  const record = readRecord(id);
  const certNow = readFound(paths.cert);
  const liveFp = fingerprintOfPem(certNow.bytes.toString('latin1'))?.fingerprint;
  const base = { op: m.op, namespace: FILES_NS, secret: id, durationMs: 0, backup: m.backupName };
  const run = parseLock(m.lock)?.run;
  if (m.step === 'confirmed' && liveFp === m.newFingerprint) {
    appendAudit({
      ...base,
      oldFingerprint: m.oldFingerprint,
      newFingerprint: m.newFingerprint,
      result: 'installed',
      run,
      error: `recorded by the next run (pid ${process.pid}): the ${m.op} was interrupted after its live confirmation`,
    });
    out.ok(`resolved: the interrupted ${m.op} had completed and was confirmed live; its audit record is written now`);
    return;
  }
  const kept = readBackup(m.backupName);
  if (m.step !== 'backup' || liveFp !== m.oldFingerprint) {
    if (!kept)
      throw new InputError(`the previous version ${m.backupName} of ${where(paths)} is not in the state dir`, {
        hint: 'Check the files and restart the service by hand, then remove the marker named in "xsoar-cert status".',
      });
    await restoreFiles(
      {
        paths,
        files: kept,
        restartCmd: opts.restartCmd ?? record?.restartCmd,
        endpoint: opts.endpoint ?? record?.endpoint,
        servername: opts.servername ?? record?.servername,
        fingerprint: m.oldFingerprint,
        timeoutS: opts.timeoutS ?? 120,
      },
      out,
    );
    out.ok(`resolved: rolled back to the certificate from before the interrupted ${m.op}`);
  } else {
    // Killed between writing the kept version and listing it: a copy nobody would ever find or prune.
    if (!record?.backups.some((b) => b.name === m.backupName)) removeBackup(m.backupName);
    out.ok(`resolved: the interrupted ${m.op} had not changed the files`);
  }
  appendAudit({
    ...base,
    op: 'resolve',
    oldFingerprint: liveFp,
    newFingerprint: m.oldFingerprint,
    result: 'resolved',
    run,
  });
}
