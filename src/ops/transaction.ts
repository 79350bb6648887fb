// What every run that replaces a TLS secret shares: the plan (pure: what is backed up and written),
// the checks before anything changes (a TLS secret, the proxy that mounts it, the endpoint), the
// fenced rollback, the live confirmation, previous-version pruning and the resolution of a run that
// died. The steps themselves run in the one engine (engine.ts); executeTransaction is its
// single-tenant face, used by install, rollback and renew.
import { hostname, userInfo } from 'node:os';
import { BusyError, EndpointError, NameChangeError, KubectlError, XsoarCertError, UsageError } from '../errors.js';
import type { Kubectl, SecretObject, DeploymentObject, Lookup, Permissions } from '../k8s/kubectl.js';
import type { Reporter as Output } from './reporter.js';
import { fetchServedChain } from '../net/served-cert.js';
import { acquireLock, clearMarker, readMarker, pidAlive } from './state.js';
import { appendAudit, type AuditInput } from '../audit/log.js';
import { retrying } from './retry.js';
import { fingerprintOfPem, installedLeaf } from './installed.js';
import { LOCK_ANNOTATION, parseLock, releaseLock } from './cluster-lock.js';
import { ANCHOR_ANNOTATION } from '../audit/anchor.js';
import { cancelNow, setSignalHandler } from '../signals.js';

export const LABEL_MANAGED = 'app.kubernetes.io/managed-by';
export const LABEL_PREVIOUS_OF = 'xsoar-cert.io/previous-of';
export const ANN = {
  fingerprint: 'xsoar-cert.io/fingerprint',
  notAfter: 'xsoar-cert.io/not-after',
  installedAt: 'xsoar-cert.io/installed-at',
  installedBy: 'xsoar-cert.io/installed-by',
  originalRv: 'xsoar-cert.io/original-resource-version',
  backedUpAt: 'xsoar-cert.io/backed-up-at',
  /** 1, 2, 3… per secret: the order of its previous versions (two made in one second must not tie). */
  backupSeq: 'xsoar-cert.io/backup-seq',
  /** Written by every restore: it moves the resourceVersion, so a write of this run still in flight gets 409. */
  restoredAt: 'xsoar-cert.io/restored-at',
};

/** The secret now holds a change that is neither this run's nor the backup: someone else's, left in place. */
export class ForeignChangeError extends BusyError {}

/** Secret data equal key by key (the API server may order keys differently). */
export function sameData(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}
const KEEP_BACKUPS = 3;

export interface NewContent {
  /** base64 values, exactly as they go into the secret's data. */
  data: Record<string, string>;
  fingerprint: string;
  notAfter: string;
  names: string[];
  /** A short description for messages ("the certificate in tenant.pem", "backup xsoar-tls-prev-…"). */
  label: string;
}

export interface TransactionOptions {
  op: 'install' | 'rollback' | 'renew';
  namespace: string;
  secret: string;
  /** 'auto' or deployment names */
  proxy: string;
  endpoint?: string;
  servername?: string;
  context?: string;
  content: NewContent | ((current: SecretObject) => Promise<NewContent>);
  allowNameChange?: boolean;
  dryRun?: boolean;
  timeoutS?: number;
  /** Asked once the plan is known, before anything changes; false cancels. */
  confirm?: (plan: Plan) => Promise<boolean>;
  /** The preflight reads, when the caller started them early (readPreflight for this kubectl and secret). */
  preflight?: Promise<Preflight>;
  /** --no-confirm: the endpoint is neither checked before nor confirmed after the change. */
  noConfirm?: boolean;
}

export interface Plan {
  namespace: string;
  secret: string;
  backupName: string;
  backupSeq?: number;
  deployments: string[];
  oldFingerprint?: string;
  newFingerprint: string;
  endpoint?: string;
  backupManifest: SecretObject;
  secretManifest: SecretObject;
  warnings: string[];
}

export interface TransactionResult {
  namespace: string;
  secret: string;
  result: 'installed' | 'dry-run' | 'cancelled';
  oldFingerprint?: string;
  newFingerprint: string;
  backup?: string;
  deployments: string[];
  confirmed: boolean;
  plan: Plan;
}

export { fingerprintOfPem, installedLeaf, leafFacts } from './installed.js';

export function secretFingerprint(s: SecretObject | undefined): string | undefined {
  return installedLeaf(s)?.fingerprint256;
}

/** Deployments whose pod template mounts the secret (volumes or projected sources). */
export function deploymentsMounting(deployments: DeploymentObject[], secret: string): string[] {
  return deployments
    .filter((d) => (d.spec?.template?.spec?.volumes ?? []).some((v) => v.secret?.secretName === secret || (v.projected?.sources ?? []).some((s) => s.secret?.name === secret)))
    .map((d) => d.metadata.name);
}

export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch { /* no passwd entry */ }
  const ssh = (process.env.SSH_CLIENT ?? process.env.SSH_CONNECTION ?? '').split(' ')[0];
  return `${user}@${ssh || hostname()}`;
}

/**
 * The deployments to restart: those mounting the secret ('auto'), or the --proxy list, each of
 * which must exist and mount the secret: restarting one that does not would report "installed"
 * while the real proxy still serves the old certificate.
 */
export function resolveProxy(deployments: DeploymentObject[], secret: string, proxy: string, where: string): string[] {
  const mounting = deploymentsMounting(deployments, secret);
  if (proxy === 'auto') {
    if (mounting.length === 0) throw new UsageError(`no deployment in ${where} mounts secret "${secret}": nothing would serve the new certificate`, 'Pass --proxy deployment/NAME for the tenant proxy.');
    return mounting;
  }
  const named = proxy.split(',').map((d) => d.trim().replace(/^deployment\//, '')).filter(Boolean);
  for (const d of named) {
    if (!deployments.some((x) => x.metadata.name === d)) throw new KubectlError(`deployment "${d}" not found in ${where}`, { verb: 'get', args: [], reason: 'NotFound', hint: 'Check --proxy; "xsoar-cert status" shows which deployments mount the secret.' });
    if (!mounting.includes(d)) {
      throw new UsageError(
        `deployment/${d} does not mount secret "${secret}" in ${where}: restarting it would not serve the new certificate`,
        mounting.length ? `The deployments that mount it: ${mounting.map((m) => `deployment/${m}`).join(', ')} (or --proxy auto). Nothing was changed.` : 'No deployment mounts it: check --secret. Nothing was changed.',
      );
    }
  }
  return named;
}

/**
 * Only a TLS secret is replaced: kubernetes.io/tls, or an Opaque secret that already holds a
 * certificate and a key. Anything else (an image pull secret, a token) would be overwritten.
 */
export function assertTlsSecret(current: SecretObject, where: string): void {
  const type = current.type ?? 'Opaque';
  if (type === 'kubernetes.io/tls') return;
  if (type === 'Opaque' && current.data?.['tls.crt'] !== undefined && current.data?.['tls.key'] !== undefined) return;
  const what = type === 'Opaque' ? 'an Opaque secret without tls.crt and tls.key' : `a "${type}" secret`;
  throw new UsageError(`secret "${current.metadata.name}" in ${where} is ${what}, not a TLS secret: it would be overwritten`, 'Check --secret: it must name the tenant\'s TLS secret ("xsoar-cert status" lists them). Nothing was changed.');
}

/** A previous version kept by a transaction (`<secret>-prev-<UTC stamp>[-N]`, see plan()). */
export const isBackupName = (name: string) => /-prev-\d{14}(-\d+)?(-[0-9a-z]{4})?$/.test(name);

const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);

/** Pure: what will be written. */
export function plan(input: { namespace: string; secret: string; current: SecretObject; content: NewContent; deployments: string[]; endpoint?: string; now: Date; existingBackups: string[]; allowNameChange?: boolean; /** Fixed in tests; random otherwise. */ suffix?: string; /** The in-cluster lock value (cluster-lock.ts), taken by the replace itself. */ lock?: string; /** The audit log's head (audit/anchor.ts), written with the change. */ anchor?: string; /** nextBackupSeq of the existing versions. */ backupSeq?: number }): Plan {
  const { current, content, now } = input;
  const old = current.data?.['tls.crt'] ? fingerprintOfPem(Buffer.from(current.data['tls.crt'], 'base64').toString('latin1')) : undefined;
  // The UTC stamp sorts the versions; a random tail keeps two runs in the same second (two admins,
  // two hosts) from colliding on the name (which used to end one of them with AlreadyExists).
  const tail = () => Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0');
  let backupName = `${input.secret}-prev-${stamp(now)}-${input.suffix ?? tail()}`;
  while (input.existingBackups.includes(backupName)) backupName = `${input.secret}-prev-${stamp(now)}-${tail()}`;
  const warnings: string[] = [];
  if (old && !input.allowNameChange) {
    const missing = old.names.filter((n) => !content.names.includes(n));
    if (missing.length) {
      throw new NameChangeError(
        `${content.label} does not cover ${missing.join(', ')}, which the installed certificate covers (${input.namespace}/${input.secret})`,
        missing,
        'Clients using those names would break. Get a certificate that includes them, or pass --allow-name-change if the names really change.',
      );
    }
  }
  const backupManifest: SecretObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: current.type ?? 'kubernetes.io/tls',
    metadata: {
      name: backupName,
      namespace: input.namespace,
      labels: { [LABEL_MANAGED]: 'xsoar-cert', [LABEL_PREVIOUS_OF]: input.secret },
      annotations: {
        [ANN.fingerprint]: old?.fingerprint ?? 'unknown',
        [ANN.notAfter]: old?.notAfter ?? 'unknown',
        [ANN.originalRv]: current.metadata.resourceVersion ?? '',
        [ANN.backedUpAt]: now.toISOString(),
        ...(input.backupSeq ? { [ANN.backupSeq]: String(input.backupSeq) } : {}),
        ...(current.metadata.annotations?.[ANN.installedAt] ? { [ANN.installedAt]: current.metadata.annotations[ANN.installedAt]! } : {}),
        // The version kept keeps its anchor: audit --verify checks the history, not only the last change.
        ...(current.metadata.annotations?.[ANCHOR_ANNOTATION] ? { [ANCHOR_ANNOTATION]: current.metadata.annotations[ANCHOR_ANNOTATION]! } : {}),
      },
    },
    data: { ...current.data }, // byte-identical copy of the data
  };
  const keepAnn = Object.fromEntries(Object.entries(current.metadata.annotations ?? {}).filter(([k]) => k !== 'kubectl.kubernetes.io/last-applied-configuration' && k !== LOCK_ANNOTATION));
  const secretManifest: SecretObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: current.type ?? 'kubernetes.io/tls',
    metadata: {
      name: input.secret,
      namespace: input.namespace,
      // The resourceVersion read in preflight: a concurrent change makes the replace fail (409), not overwrite it.
      resourceVersion: current.metadata.resourceVersion,
      labels: current.metadata.labels,
      annotations: { ...keepAnn, [ANN.fingerprint]: content.fingerprint, [ANN.notAfter]: content.notAfter, [ANN.installedAt]: now.toISOString(), [ANN.installedBy]: whoAmI(), ...(input.lock ? { [LOCK_ANNOTATION]: input.lock } : {}), ...(input.anchor ? { [ANCHOR_ANNOTATION]: input.anchor } : {}) },
    },
    data: { ...Object.fromEntries(Object.entries(current.data ?? {}).filter(([k]) => !['tls.crt', 'tls.key', 'ca.crt'].includes(k))), ...content.data },
  };
  if (!input.endpoint) warnings.push('no --endpoint: the live certificate will not be confirmed after the restart');
  return { namespace: input.namespace, secret: input.secret, backupName, backupSeq: input.backupSeq, deployments: input.deployments, oldFingerprint: old?.fingerprint, newFingerprint: content.fingerprint, endpoint: input.endpoint, backupManifest, secretManifest, warnings };
}

/** The plan as shown by --dry-run: key material redacted. */
export function redactedPlan(p: Plan): Plan {
  const red = (s: SecretObject): SecretObject => ({ ...s, data: Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, k.endsWith('.key') || k === 'key' ? `[REDACTED ${Buffer.from(v, 'base64').length} bytes]` : v])) });
  return { ...p, backupManifest: red(p.backupManifest), secretManifest: red(p.secretManifest) };
}

const REQUIRED: [string, string, boolean][] = [
  ['get', 'secrets', true],
  ['create', 'secrets', true],
  ['update', 'secrets', true],
  ['delete', 'secrets', false],
  ['get', 'deployments.apps', true],
  ['list', 'deployments.apps', true],
  ['patch', 'deployments.apps', true],
  ['watch', 'deployments.apps', true],
];

export function missingPermissions(p: Permissions, secret: string): { required: string[]; optional: string[] } {
  const required: string[] = [];
  const optional: string[] = [];
  for (const [verb, res, must] of REQUIRED) {
    const ok = p.can(verb, res, res === 'secrets' && verb !== 'create' ? secret : undefined);
    if (!ok) (must ? required : optional).push(`${verb} ${res}`);
  }
  return { required, optional };
}

// ---------------------------------------------------------------- signals
const active = new Set<{ abort(): void; what?: string }>();
function onSignal(sig: NodeJS.Signals): void {
  if (active.size === 0) cancelNow(sig);
  const what = [...active].find((a) => a.what)?.what ?? 'restoring the previous certificate';
  process.stderr.write(`\nxsoar-cert: ${sig}: stopping and ${what}, please wait...\n`);
  for (const a of active) a.abort();
}
function installSignalHandlers(): void {
  setSignalHandler(onSignal);
}

/** Run `fn` on SIGINT/SIGTERM until the returned function is called (the batched fleet transaction). */
export function onInterrupt(fn: () => void, what?: string): () => void {
  const handle = { abort: fn, what };
  installSignalHandlers();
  active.add(handle);
  return () => active.delete(handle);
}

/** A signal (Ctrl-C / SIGTERM) stopped the work; whatever failed after it failed because of it. */
export class Interrupted extends Error {}

export type Preflight = [Lookup<SecretObject>, DeploymentObject[], Permissions | undefined, SecretObject[]];

/**
 * The read-only cluster state a transaction starts from, in two kubectl processes at once: the
 * namespace's secrets and deployments in one `get secrets,deployments` (the secret, its previous
 * versions and the proxies), and every permission in one `auth can-i --list`.
 */
export async function readPreflight(kubectl: Kubectl, secret: string): Promise<Preflight> {
  const [both, perms] = await Promise.all([
    retrying(() => kubectl.listSecretsAndDeployments()),
    retrying(() => kubectl.permissions()).catch((err: unknown) => (err instanceof XsoarCertError && /unknown flag|--list/.test(String((err as KubectlError).stderr)) ? undefined : Promise.reject(err))),
  ]);
  const cur = both.secrets.find((s) => s.metadata.name === secret);
  const backups = both.secrets.filter((s) => s.metadata.labels?.[LABEL_PREVIOUS_OF] === secret);
  return [cur ? { found: true, object: cur } : { found: false }, both.deployments, perms, backups];
}

/** Does the secret named by `manifest` (in `kubectl`'s namespace) hold exactly its data now? */
export async function secretHolds(kubectl: Kubectl, manifest: SecretObject): Promise<boolean> {
  const live = await retrying(() => kubectl.getSecret(manifest.metadata.name));
  return live.found && sameData(live.object.data, manifest.data);
}

/**
 * The backup create, or the fenced replace (resourceVersion precondition), retried on a transient
 * fault. When a retry answers AlreadyExists or 409, the first try may have landed unseen: it counts
 * as done when the secret now holds exactly what we wrote.
 */
export async function writeSecret(kubectl: Kubectl, verb: 'create' | 'replace', manifest: SecretObject): Promise<void> {
  await retrying(async (attempt) => {
    try {
      await (verb === 'create' ? kubectl.create(manifest) : kubectl.replace(manifest));
    } catch (err) {
      const landed = verb === 'create' ? err instanceof KubectlError && err.reason === 'AlreadyExists' : err instanceof BusyError;
      if (attempt > 1 && landed && (await secretHolds(kubectl, manifest))) return;
      throw err;
    }
  });
}

/** One tenant: the one engine (engine.ts) with a single target; a failure is thrown, as every command expects. */
export async function executeTransaction(opts: TransactionOptions, kubectl: Kubectl, out: Output): Promise<TransactionResult> {
  const { runEngine } = await import('./engine.js');
  const [r] = await runEngine(
    {
      op: opts.op, targets: [{ namespace: opts.namespace, secret: opts.secret, endpoint: opts.endpoint, content: opts.content }], proxy: opts.proxy, servername: opts.servername, context: opts.context,
      allowNameChange: opts.allowNameChange, noConfirm: opts.noConfirm, dryRun: opts.dryRun, timeoutS: opts.timeoutS, confirm: opts.confirm, preflight: opts.preflight,
    },
    kubectl,
    out,
  );
  if (!r!.ok) throw r!.error;
  return r!.value!;
}

/** `kubectl rollout restart` of the proxies, then `rollout status` for each (retried on a transient fault). */
export async function restart(kubectl: Kubectl, targets: string[], timeoutS: number, out: Output): Promise<void> {
  out.step(`Restart: ${targets.map((t) => `deployment/${t}`).join(', ')}`);
  await retrying(async () => {
    try {
      await kubectl.rolloutRestart(targets);
    } catch (err) {
      // kubectl refuses a second restart within the same second (restartedAt has one-second resolution).
      if (!/within the past second/.test(String((err as KubectlError).stderr ?? (err as Error).message))) throw err;
      await new Promise((r) => setTimeout(r, 1100));
      await kubectl.rolloutRestart(targets);
    }
  });
  await out.wait(`waiting for the rollout of ${targets.join(', ')}`, Promise.all(targets.map((t) => retrying(() => kubectl.rolloutStatus(t, timeoutS, (line) => out.info(`  ${line}`))))));
  out.ok(`rollout of ${targets.join(', ')} complete`);
}

/** HOST:PORT with a port from 1 to 65535 (IPv6 in brackets); a UsageError otherwise. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(endpoint);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`--endpoint "${endpoint}": expected HOST:PORT with a port from 1 to 65535 (e.g. xsoar.example.com:443)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Before anything changes: the endpoint answers TLS and serves the certificate installed now.
 * A wrong --endpoint (a closed port, a plain-HTTP port, another tenant's port) used to be found
 * only after the secret was replaced and the proxy restarted, ending in a rollback. A connection
 * fault is retried twice, so one dropped connection needs no human.
 */
export async function checkEndpoint(endpoint: string, installedFingerprint: string | undefined, where: string, servername?: string): Promise<void> {
  parseEndpoint(endpoint);
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, 300 * attempt));
    try {
      const served = await fetchServedChain(endpoint, { servername, timeoutMs: 4000 });
      const leaf = served.chain[0];
      if (!installedFingerprint || leaf?.fingerprint256 === installedFingerprint) return;
      const cn = leaf ? /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1] : undefined;
      throw new EndpointError(
        `--endpoint ${endpoint} serves ${leaf ? `${leaf.fingerprint256}${cn ? ` ("${cn}")` : ''}` : 'no certificate'}, not the certificate installed in ${where} (${installedFingerprint}): it is probably another tenant's endpoint`,
        'Pass the endpoint of this tenant (status shows what each serves), or --no-confirm to change the secret without checking the live certificate. Nothing was changed.',
      );
    } catch (err) {
      if (err instanceof EndpointError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      last = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ETIMEDOUT' ? 'no answer within 4 s' : /wrong version number|packet length|unknown protocol|EPROTO/i.test(String((err as Error).message)) ? 'it does not speak TLS there' : (err as Error).message;
    }
  }
  throw new EndpointError(`--endpoint ${endpoint}: no TLS handshake (${last}): nothing was changed`, 'Check --endpoint (HOST:PORT where this tenant serves HTTPS), or pass --no-confirm to skip the live check.');
}

/** Both TLS versions must serve the expected leaf; a Service may route to an old pod for a moment, so retry briefly. */
export async function confirmServed(endpoint: string, fingerprint: string, servername?: string, signal?: AbortSignal, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last = '';
  for (;;) {
    if (signal?.aborted) throw new Interrupted('interrupted by a signal');
    try {
      const seen = await Promise.all((['TLSv1.2', 'TLSv1.3'] as const).map((v) => fetchServedChain(endpoint, { servername, minVersion: v, maxVersion: v, timeoutMs: 3000 })));
      const fps = seen.map((s) => s.chain[0]?.fingerprint256);
      if (fps.every((f) => f === fingerprint)) return;
      last = `it serves ${[...new Set(fps)].join(' / ')}`;
    } catch (err) {
      last = `TLS handshake failed: ${(err as Error).message}`;
    }
    if (Date.now() > until) throw new Error(`${endpoint} does not serve ${fingerprint}: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface RollbackSpec {
  namespace: string;
  secret: string;
  data: Record<string, string>;
  /** What this run wrote: restore only over that (or over the backup itself); anything else is someone else's change. */
  ours?: Record<string, string>;
  annotations?: Record<string, string>;
  /** This run's in-cluster lock: the restore keeps it (nobody else starts meanwhile) and the end releases it. */
  lock?: string;
  deployments: string[];
  restartNeeded: boolean;
  endpoint?: string;
  servername?: string;
  fingerprint?: string;
  timeoutS: number;
}

/**
 * Put `data` back into the secret, restart, confirm, and re-read before saying so. The restore is
 * always a write (a changed restored-at annotation even when the data is already back): it moves
 * the resourceVersion, so a write of this run still in flight (a PUT whose answer timed out) is
 * refused with 409 when it arrives, instead of landing after the rollback was reported.
 */
export async function rollbackTo(kubectl: Kubectl, spec: RollbackSpec, out: Output): Promise<void> {
  out.step(`Rollback: restoring the previous certificate in ${spec.namespace}/${spec.secret}`);
  for (let round = 0; ; round++) {
    const live = await retrying(() => kubectl.getSecret(spec.secret));
    if (!live.found) throw new Error(`secret ${spec.secret} disappeared`);
    const liveData = live.object.data ?? {};
    const isBackup = sameData(liveData, spec.data);
    if (!isBackup && spec.ours && !sameData(liveData, spec.ours)) {
      throw new ForeignChangeError(`the secret ${spec.namespace}/${spec.secret} now holds another change (${secretFingerprint(live.object) ?? 'no certificate'}), not this run's: it was left in place, not rolled back`);
    }
    const annotations: Record<string, string> = { ...(spec.annotations ?? {}), [ANN.restoredAt]: `${new Date().toISOString()} pid ${process.pid}` };
    delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
    delete annotations[LOCK_ANNOTATION];
    if (spec.lock) annotations[LOCK_ANNOTATION] = spec.lock;
    try {
      await retrying(() => kubectl.replace({ ...live.object, metadata: { ...live.object.metadata, annotations }, data: spec.data }));
      out.ok(isBackup ? 'secret data already the previous version (fenced against late writes)' : 'secret data restored');
      break;
    } catch (err) {
      // 409: something wrote meanwhile (often this run's own late write): read again and decide again.
      if (err instanceof BusyError && round < 3) continue;
      // Nothing to restore and the API refuses writes (so a late write would be refused too): the
      // fence is not needed to make "rolled back" true; the re-read below still checks it.
      if (isBackup && !(err instanceof BusyError)) {
        out.warn(`could not write the restored-at fence (${(err as Error).message}); the data is already the previous version`);
        break;
      }
      throw err;
    }
  }
  if (spec.restartNeeded) await restart(kubectl, spec.deployments, spec.timeoutS, out);
  if (spec.endpoint && spec.fingerprint) {
    await out.wait(`handshakes with ${spec.endpoint}`, confirmServed(spec.endpoint, spec.fingerprint, spec.servername));
    out.ok(`${spec.endpoint} serves the previous certificate ${spec.fingerprint} again`);
  }
  // The re-read before "rolled back": the lock release answers with the secret (or it is read).
  const after = spec.lock ? await releaseLock(kubectl, spec.secret, spec.lock) : await retrying(() => kubectl.getSecret(spec.secret)).then((l) => (l.found ? l.object : undefined));
  if (!after || !sameData(after.data, spec.data)) {
    throw new Error(`after the restore the secret ${spec.namespace}/${spec.secret} holds ${after ? secretFingerprint(after) ?? 'no certificate' : 'nothing'}, not the previous version`);
  }
}

/** A kept previous version: its name, the fingerprint of the certificate it holds, its place in the order. */
export interface BackupRef {
  name: string;
  fingerprint?: string;
  /** ANN.backupSeq; undefined for a version kept before the sequence existed (older than any with one). */
  seq?: number;
}

export function backupRef(s: SecretObject): BackupRef {
  const seq = Number(s.metadata.annotations?.[ANN.backupSeq]);
  return { name: s.metadata.name, fingerprint: s.metadata.annotations?.[ANN.fingerprint], seq: Number.isSafeInteger(seq) && seq > 0 ? seq : undefined };
}

/** The sequence number of the next previous version (runs on one secret are serialized by its lock). */
export const nextBackupSeq = (refs: BackupRef[]) => Math.max(0, ...refs.map((r) => r.seq ?? 0)) + 1;

/** Newest first: by sequence, then by name (its UTC stamp) for versions kept before the sequence. */
const newestFirst = (a: BackupRef, b: BackupRef) => (b.seq ?? 0) - (a.seq ?? 0) || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);

/** Previous versions, newest first (what rollback takes, what status lists). */
export const newestBackupsFirst = (backups: SecretObject[]): SecretObject[] => [...backups].sort((a, b) => newestFirst(backupRef(a), backupRef(b)));

/**
 * Which backups to delete: keep the newest copy of each of the KEEP_BACKUPS newest *distinct*
 * certificates (in the order of their sequence numbers). Failed runs each keep a copy of the certificate
 * they did not replace; counted by name, three of those pushed the real history out.
 */
export function backupsToPrune(refs: BackupRef[]): string[] {
  const byName = new Map(refs.map((r) => [r.name, r]));
  const seen = new Set<string>();
  const drop: string[] = [];
  for (const r of [...byName.values()].sort(newestFirst)) {
    const key = r.fingerprint && r.fingerprint !== 'unknown' ? r.fingerprint : `name:${r.name}`;
    if (seen.has(key) || seen.size >= KEEP_BACKUPS) drop.push(r.name);
    else seen.add(key);
  }
  return drop;
}

/** A marker left by a run that died (SIGKILL, power loss): finish the job safely by rolling back. */
export async function resolveMarker(kubectl: Kubectl, ns: string, secret: string, out: Output, opts: { endpoint?: string; servername?: string; timeoutS?: number; dryRun?: boolean } = {}): Promise<'none' | 'running' | 'resolved' | 'pending'> {
  const m = readMarker(ns, secret);
  if (!m) return 'none';
  if (m.pid !== process.pid && pidAlive(m.pid, m.pidStart)) return 'running';
  if (opts.dryRun) {
    // A dry run changes nothing, a marker's resolution included: it says what the next real run will do.
    const next = m.step === 'confirmed' ? 'write its missing audit record' : `roll back to ${m.backupName} if the secret was changed`;
    out.warn(`an earlier ${m.op} (pid ${m.pid}, started ${m.startedAt}) was interrupted at step "${m.step}"; the next real run will ${next} (dry run: not resolved now)`);
    return 'pending';
  }
  out.warn(`an earlier ${m.op} (pid ${m.pid}, started ${m.startedAt}) was interrupted at step "${m.step}"; resolving it`);
  const lock = acquireLock(ns, secret, 'resolve');
  try {
    const live = await kubectl.getSecret(secret);
    const backup = await kubectl.getSecret(m.backupName);
    const liveFp = live.found ? secretFingerprint(live.object) : undefined;
    if (m.step === 'confirmed' && liveFp === m.newFingerprint) {
      // Killed after the live confirmation, before its record: the change stands; write the record.
      appendAudit({ op: m.op as AuditInput['op'], namespace: ns, secret, context: m.context, oldFingerprint: m.oldFingerprint, newFingerprint: m.newFingerprint, result: 'installed', durationMs: 0, backup: m.backupName, run: parseLock(m.lock)?.run, error: `recorded by the next run (pid ${process.pid}): the ${m.op} was interrupted after its live confirmation` });
      out.ok(`resolved: the interrupted ${m.op} had completed and was confirmed live; its audit record is written now`);
      if (m.lock) await releaseLock(kubectl, secret, m.lock);
      clearMarker(ns, secret);
      return 'resolved';
    }
    if (backup.found && (m.step !== 'backup' || liveFp !== m.oldFingerprint)) {
      // Past the backup, the secret may have changed and the proxy restarted with it (or a
      // rollback was cut short between its restore and its restart): finish the rollback whole
      // (restore, restart, confirm), as the transaction would have.
      await rollbackTo(kubectl, { namespace: ns, secret, data: backup.object.data ?? {}, deployments: m.deployments, restartNeeded: true, endpoint: opts.endpoint, servername: opts.servername, fingerprint: m.oldFingerprint, timeoutS: opts.timeoutS ?? 120, lock: m.lock }, out);
      out.ok(`resolved: rolled back to the certificate from before the interrupted ${m.op}`);
    } else {
      out.ok(`resolved: the interrupted ${m.op} had not changed the secret`);
      if (m.lock && live.found && live.object.metadata.annotations?.[LOCK_ANNOTATION] === m.lock) await releaseLock(kubectl, secret, m.lock);
    }
    appendAudit({ op: 'resolve', namespace: ns, secret, context: m.context, oldFingerprint: liveFp, newFingerprint: m.oldFingerprint, result: 'resolved', durationMs: 0, backup: m.backupName, run: parseLock(m.lock)?.run });
    clearMarker(ns, secret);
    return 'resolved';
  } finally {
    lock.release();
  }
}
