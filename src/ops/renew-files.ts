// `renew --files`: the same renewal as for a secret (renew.ts), for certificate files on this host.
// The installed certificate is read from the files (a killed run finished first), the same pure
// policy decides whether it is due (renew-policy.ts, with the source's window), and the source's
// certificate goes in through the files target's transaction (targets/files/run.ts): backup, atomic
// write, restart command, confirm, rollback. The lock, the backoff and the renewal record are those
// of the set of files (namespace "files", its state name), as status --files and audit -n files show.
import type { Reporter } from './reporter.js';
import type { Target } from './fleet.js';
import { acquireLock } from './state.js';
import { completeRequest } from './requests.js';
import { decide, pending, renewed, sourceFor, type RenewOptions, type RenewResult } from './renew.js';
import { backingOff, remember } from './renew-record.js';
import type { Obtained } from './sources/types.js';
import { FILES_NS, filesId } from './targets/files/plan.js';
import type { FileTarget } from './targets/files/presets.js';
import { readInstalledFiles, renewFiles, type FilesRunOptions } from './targets/files/run.js';

export type RenewFilesOptions = Omit<RenewOptions, 'namespace' | 'secret' | 'proxy' | 'context' | 'kubeconfig'> & {
  target: FileTarget;
};

/** One set of files: within a backoff nothing is tried; otherwise renew it and keep the attempt on record. */
export async function runRenewFiles(o: RenewFilesOptions, out: Reporter): Promise<RenewResult> {
  const t: Target = { namespace: FILES_NS, secret: filesId(o.target.paths), endpoint: o.endpoint };
  const wait = backingOff(t, o, out);
  if (wait) return wait;
  // One renewal of these files at a time, for the whole run (the engine's own lock re-enters it).
  const lock = o.dryRun ? { release: () => undefined } : acquireLock(t.namespace, t.secret, 'renew');
  const stage = { inEngine: false };
  try {
    const r = await renewOnce(o, t, out, stage);
    if (!o.dryRun) remember(t, r.action === 'skipped' ? { skipped: r } : { renewed: r });
    return r;
  } catch (error) {
    if (!o.dryRun) remember(t, { error, inEngine: stage.inEngine });
    throw error;
  } finally {
    lock.release();
  }
}

async function renewOnce(
  o: RenewFilesOptions,
  t: Target,
  out: Reporter,
  stage: { inEngine: boolean },
): Promise<RenewResult> {
  const run: FilesRunOptions = {
    op: 'renew',
    target: o.target,
    endpoint: o.endpoint,
    servername: o.servername,
    allowNameChange: o.allowNameChange,
    noConfirm: o.noConfirm,
    dryRun: o.dryRun,
    timeoutS: o.timeoutS,
  };
  const installed = await readInstalledFiles(run, out);
  const source = await sourceFor(o);
  const d = await decide({ ...o, namespace: t.namespace, secret: t.secret, proxy: '' }, installed, source, out);
  if (d.skip) return d.skip;
  const got = new Map<string, Obtained>();
  stage.inEngine = true;
  const transaction = await renewFiles(run, pending(source, installed, out, got), out);
  const obtained = got.get(installed.where);
  if (!o.dryRun && obtained?.requestId !== undefined && transaction.result === 'installed')
    completeRequest(obtained.requestId, out);
  return renewed(o, t, d.reason, source, obtained, transaction);
}
