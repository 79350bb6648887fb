// The PEM-files target (XSOAR 6's /usr/local/demisto/cert.pem and cert.key, nginx, HAProxy's one
// combined file): a session reads the installed files, plans what each will hold, keeps the
// previous version in the state dir, writes each file atomically, runs --restart-cmd, and puts
// the kept version back on failure. The engine (txn/engine.ts) sees only TargetSession.
import { randomBytes } from 'node:crypto';
import { BusyError, UsageError } from '../../../errors.js';
import type { Reporter } from '../../reporter.js';
import { fingerprintOfPem } from '../../installed.js';
import type { Change, Fail, Found, NewContent, TargetKind, TargetSession, TenantRef } from '../../txn/types.js';
import {
  assertNamesKept,
  assertServiceCanRead,
  backupName,
  digestOf,
  filesId,
  layout,
  oct,
  sameVersion,
  withBackup,
  backupsToPrune,
  type FilePaths,
  type FileWrite,
  type FoundFile,
  type Modes,
  type Owner,
  type VerbatimFile,
} from './plan.js';
import { assertMayChown, readFound, writeAtomic } from './steps.js';
import { runRestart } from './restart.js';
import { readRecord, removeBackup, writeBackup, writeRecord, type FilesRecord } from './store.js';
import { restoreFiles } from './recovery.js';
import { stopPoint } from './stop-point.js';

export interface FilesTargetOptions {
  paths: FilePaths;
  owner?: Owner;
  modes?: Modes;
  restartCmd?: string;
  servername?: string;
  /** XSOAR 6: the CA goes at the end of cert.pem. */
  withCa?: boolean;
  /** rollback: the kept version's files, byte for byte. */
  verbatim?: VerbatimFile[];
}

interface Planned {
  writes: FileWrite[];
  oldDigest: string;
  newDigest: string;
  backup: string;
  reuse: boolean;
  oldFingerprint?: string;
  newFingerprint: string;
}

interface Tenant {
  t: TenantRef;
  id: string;
  found: FoundFile[];
  record: FilesRecord;
  plan?: Planned;
}

const roleOf = (p: FilePaths, file: string): FileWrite['role'] =>
  !p.key ? 'combined' : file === p.key ? 'key' : 'cert';

/** Certificate files on this host, changed by this process (one set of files per run). */
export function pemFiles(o: FilesTargetOptions): TargetKind {
  return {
    async open(ts, _out, refuse) {
      if (ts.length !== 1) throw new UsageError('--files takes one set of files per run');
      const t = ts[0]!;
      const id = filesId(o.paths);
      let x: Tenant | undefined;
      try {
        const found = [o.paths.cert, ...(o.paths.key ? [o.paths.key] : [])].map(readFound);
        const prev = readRecord(id);
        const record: FilesRecord = {
          v: 1,
          id,
          cert: o.paths.cert,
          ...(o.paths.key ? { key: o.paths.key } : {}),
          ...(o.restartCmd ? { restartCmd: o.restartCmd } : {}),
          ...(t.endpoint ? { endpoint: t.endpoint } : {}),
          ...(o.servername ? { servername: o.servername } : {}),
          backups: prev?.backups ?? [],
        };
        x = { t, id, found, record };
      } catch (err) {
        refuse(t, err);
      }
      return session(x!, o);
    },
  };
}

const filesLine = (found: FoundFile[]) =>
  found.map((f) => `${f.path} (uid ${f.uid}, gid ${f.gid}, mode ${oct(f.mode)})`).join(', ');

function session(x: Tenant, o: FilesTargetOptions): TargetSession {
  const where = o.paths.key ? `${o.paths.cert}, ${o.paths.key}` : o.paths.cert;
  const oldFacts = fingerprintOfPem(x.found[0]!.bytes.toString('latin1'));
  return {
    where: () => where,
    check: (): Found => ({
      oldFingerprint: oldFacts?.fingerprint,
      line: `files found: ${filesLine(x.found)}; restart: ${o.restartCmd ?? '(none)'}`,
      restarts: [],
    }),
    plan: (_t, content, _marks, opts) => planTenant(x, o, content, oldFacts, where, opts),
    async recheck() {
      const now = x.found.map((f) => readFound(f.path));
      if (digestOf(now) !== digestOf(x.found))
        throw new BusyError(`${where} changed while xsoar-cert was checking: another run is changing them`);
    },
    signal: () => undefined,
    backup: async (_ts, out, fail) => guard(x, fail, () => backupStep(x, out)),
    apply: async (_ts, out, fail) => guard(x, fail, () => applyStep(x, out, where)),
    restart: async (_ts, timeoutS, out, fail, check) =>
      guard(x, fail, async () => {
        await restartStep(o.restartCmd, timeoutS, out);
        check();
      }),
    release: async (_ts, out, fail) => guard(x, fail, () => releaseStep(x, out, where)),
    restore: (_t, opts, out) =>
      restoreFiles(
        {
          paths: o.paths,
          files: x.found.map((f) => ({
            role: roleOf(o.paths, f.path),
            data: f.bytes,
            uid: f.uid,
            gid: f.gid,
            mode: f.mode,
          })),
          ours: x.plan!.writes,
          restartCmd: o.restartCmd,
          endpoint: opts.endpoint,
          servername: opts.servername,
          fingerprint: x.plan!.oldFingerprint,
          timeoutS: opts.timeoutS,
        },
        out,
      ),
    prune: async () => pruneStep(x),
    rollbackHint: (_t, backup) =>
      `The previous files are kept in the state dir as ${backup}. Restore them with: xsoar-cert rollback ` +
      `--files ${o.paths.key ? `${o.paths.cert},${o.paths.key}` : o.paths.cert} --to ${backup}`,
  };
}

async function guard(x: Tenant, fail: Fail, fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    fail(x.t, err);
  }
}

function planTenant(
  x: Tenant,
  o: FilesTargetOptions,
  content: NewContent,
  old: ReturnType<typeof fingerprintOfPem>,
  where: string,
  opts: { allowNameChange?: boolean; confirmEndpoint: boolean },
): Change {
  if (old && !opts.allowNameChange) assertNamesKept(old.names, content, where);
  const byPath = new Map(x.found.map((f) => [f.path, f]));
  const writes = layout({
    paths: o.paths,
    content,
    modes: o.modes ?? { cert: 0o644, key: 0o600 },
    owner: o.owner ?? { uid: 0, gid: 0 },
    withCa: o.withCa,
    verbatim: o.verbatim,
  }).map((w) => {
    // Without --owner / --mode each file keeps its own (a rollback writes the kept version's own).
    const f = byPath.get(w.path)!;
    return o.verbatim
      ? w
      : { ...w, ...(o.owner ? {} : { uid: f.uid, gid: f.gid }), ...(o.modes ? {} : { mode: f.mode }) };
  });
  // A kept version goes back as it was, when the service read it; new files must stay readable by it.
  if (!o.verbatim) assertServiceCanRead(x.found, writes, o.owner ? `${o.owner.user}:${o.owner.group}` : 'USER:GROUP');
  for (const w of writes) assertMayChown(w);
  const oldDigest = digestOf(x.found);
  const same = sameVersion(x.record.backups, oldDigest);
  const backup = same?.name ?? backupName(x.id, new Date(), randomBytes(2).toString('hex'));
  x.plan = {
    writes,
    oldDigest,
    newDigest: digestOf(writes.map((w) => ({ bytes: w.data }))),
    backup,
    reuse: same !== undefined,
    oldFingerprint: old?.fingerprint,
    newFingerprint: content.fingerprint,
  };
  return change(x, o, writes, same !== undefined, opts.confirmEndpoint);
}

/** The change as the engine and the confirmation prompt see it (no key material in it). */
function change(x: Tenant, o: FilesTargetOptions, writes: FileWrite[], reuse: boolean, confirmEndpoint: boolean) {
  const p = x.plan!;
  const confirm = confirmEndpoint && x.t.endpoint;
  return {
    oldFingerprint: p.oldFingerprint,
    newFingerprint: p.newFingerprint,
    backup: p.backup,
    restarts: [],
    warnings: confirm ? [] : ['no --endpoint: the live certificate will not be confirmed after the restart'],
    steps: [
      `keep the current files as ${p.backup}${reuse ? ' (this version is kept already)' : ''} in the state dir`,
      ...writes.map((w) => `write ${w.path} (uid ${w.uid}, gid ${w.gid}, mode ${oct(w.mode)}) atomically`),
      o.restartCmd ? `run ${o.restartCmd}` : '(no --restart-cmd: nothing is restarted)',
      confirm ? `confirm ${x.t.endpoint} serves the new certificate over TLS 1.2 and 1.3` : '(no live confirmation)',
    ],
    detail: {
      files: writes.map((w) => ({
        path: w.path,
        role: w.role,
        bytes: w.data.length,
        uid: w.uid,
        gid: w.gid,
        mode: oct(w.mode),
      })),
      backup: p.backup,
      restart: o.restartCmd ?? null,
    },
  };
}

function backupStep(x: Tenant, out: Reporter): void {
  const p = x.plan!;
  out.step(`Backup: the current files, as ${p.backup}`);
  if (!p.reuse) {
    writeBackup({
      v: 1,
      name: p.backup,
      digest: p.oldDigest,
      fingerprint: p.oldFingerprint,
      files: x.found.map((f) => ({
        role: roleOf({ cert: x.record.cert, key: x.record.key }, f.path),
        data: f.bytes.toString('base64'),
        uid: f.uid,
        gid: f.gid,
        mode: f.mode,
      })),
    });
    stopPoint('backup-written');
  }
  const entry = {
    name: p.backup,
    digest: p.oldDigest,
    fingerprint: p.oldFingerprint,
    savedAt: new Date().toISOString(),
  };
  x.record = { ...x.record, backups: withBackup(x.record.backups, entry) };
  writeRecord(x.record);
  out.ok(p.reuse ? `this version is kept already (${p.backup})` : `kept in the state dir (mode 0600)`);
  stopPoint('backed-up');
}

function applyStep(x: Tenant, out: Reporter, where: string): void {
  const p = x.plan!;
  out.step(`Apply: ${where}`);
  // Changed since they were read (another admin, a config tool): theirs stands, this run stops.
  const now = x.found.map((f) => readFound(f.path));
  if (digestOf(now) !== p.oldDigest)
    throw new BusyError(
      `${where} changed since xsoar-cert read them: not overwritten`,
      'Run again. Nothing was changed.',
    );
  for (const w of p.writes) {
    writeAtomic(w);
    out.ok(`wrote ${w.path} (mode ${oct(w.mode)})`);
  }
}

async function restartStep(cmd: string | undefined, timeoutS: number, out: Reporter): Promise<void> {
  if (!cmd) return;
  out.step(`Restart: ${cmd}`);
  stopPoint('restart');
  await out.wait('restarting', runRestart(cmd, timeoutS));
  out.ok('restart command done');
  stopPoint('restarted');
}

function releaseStep(x: Tenant, _out: Reporter, where: string): void {
  stopPoint('release');
  const now = x.plan!.writes.map((w) => readFound(w.path));
  if (digestOf(now) !== x.plan!.newDigest) throw new Error(`${where} no longer hold what this run wrote`);
}

function pruneStep(x: Tenant): void {
  stopPoint('prune');
  const { kept, pruned } = backupsToPrune(x.record.backups);
  if (!pruned.length) return;
  writeRecord({ ...x.record, backups: kept });
  for (const b of pruned) removeBackup(b.name);
}

export { resolveFilesMarker, restoreFiles } from './recovery.js';
