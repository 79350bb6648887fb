// The Kubernetes TLS secret target, pure part: what a change writes (the new secret, the previous
// version kept beside it, the labels and annotations both carry), which previous versions are
// kept, which deployments serve the secret, and the checks that need only what was read: a TLS
// secret, the permissions a change needs. Nothing here talks to the cluster.
import { KubectlError, NameChangeError, UsageError } from '../../../errors.js';
import type { Permissions } from '../../../k8s/auth.js';
import type { Deployment } from '../../../k8s/deployments.js';
import type { SecretObject } from '../../../k8s/secrets.js';
import { fingerprintOfPem, installedLeaf } from '../../installed.js';
import { whoAmI } from '../../identity.js';
import { LOCK_ANNOTATION } from '../../cluster-lock.js';
import { ANCHOR_ANNOTATION } from '../../../audit/anchor.js';
import type { NewContent } from '../../txn/types.js';

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

/** Secret data equal key by key (the API server may order keys differently). */
export function sameData(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}
const KEEP_BACKUPS = 3;

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

export function secretFingerprint(s: SecretObject | undefined): string | undefined {
  return installedLeaf(s)?.fingerprint256;
}

/** Deployments whose pod template mounts the secret (volumes or projected sources). */
export function deploymentsMounting(deployments: Deployment[], secret: string): string[] {
  return deployments
    .filter((d) =>
      (d.spec?.template?.spec?.volumes ?? []).some(
        (v) => v.secret?.secretName === secret || (v.projected?.sources ?? []).some((s) => s.secret?.name === secret),
      ),
    )
    .map((d) => d.metadata.name);
}

/**
 * The deployments to restart: those mounting the secret ('auto'), or the --proxy list, each of
 * which must exist and mount the secret: restarting one that does not would report "installed"
 * while the real proxy still serves the old certificate.
 */
export function resolveProxy(deployments: Deployment[], secret: string, proxy: string, where: string): string[] {
  const mounting = deploymentsMounting(deployments, secret);
  if (proxy === 'auto') {
    if (mounting.length === 0)
      throw new UsageError(
        `no deployment in ${where} mounts secret "${secret}": nothing would serve the new certificate`,
        'Pass --proxy deployment/NAME for the tenant proxy.',
      );
    return mounting;
  }
  const named = proxy
    .split(',')
    .map((d) => d.trim().replace(/^deployment\//, ''))
    .filter(Boolean);
  for (const d of named) {
    if (!deployments.some((x) => x.metadata.name === d))
      throw new KubectlError(`deployment "${d}" not found in ${where}`, {
        verb: 'get',
        args: [],
        reason: 'NotFound',
        hint: 'Check --proxy; "xsoar-cert status" shows which deployments mount the secret.',
      });
    if (!mounting.includes(d)) {
      throw new UsageError(
        `deployment/${d} does not mount secret "${secret}" in ${where}: ` +
          'restarting it would not serve the new certificate',
        mounting.length
          ? `The deployments that mount it: ${mounting.map((m) => `deployment/${m}`).join(', ')} (or --proxy auto). ` +
              'Nothing was changed.'
          : 'No deployment mounts it: check --secret. Nothing was changed.',
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
  throw new UsageError(
    `secret "${current.metadata.name}" in ${where} is ${what}, not a TLS secret: it would be overwritten`,
    'Check --secret: it must name the tenant\'s TLS secret ("xsoar-cert status" lists them). Nothing was changed.',
  );
}

/** A previous version kept by a transaction (`<secret>-prev-<UTC stamp>[-N]`, see plan()). */
export const isBackupName = (name: string) => /-prev-\d{14}(-\d+)?(-[0-9a-z]{4})?$/.test(name);

const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);

export interface PlanInput {
  namespace: string;
  secret: string;
  current: SecretObject;
  content: NewContent;
  deployments: string[];
  endpoint?: string;
  now: Date;
  existingBackups: string[];
  allowNameChange?: boolean;
  /** Fixed in tests; random otherwise. */
  suffix?: string;
  /** The in-cluster lock value (cluster-lock.ts), taken by the replace itself. */
  lock?: string;
  /** The audit log's head (audit/anchor.ts), written with the change. */
  anchor?: string;
  /** nextBackupSeq of the existing versions. */
  backupSeq?: number;
}

/** Pure: what will be written. */
export function plan(input: PlanInput): Plan {
  const { current, content } = input;
  const old = current.data?.['tls.crt']
    ? fingerprintOfPem(Buffer.from(current.data['tls.crt'], 'base64').toString('latin1'))
    : undefined;
  if (old && !input.allowNameChange) assertNamesKept(old.names, input);
  const backupName = newBackupName(input);
  const warnings = input.endpoint
    ? []
    : ['no --endpoint: the live certificate will not be confirmed after the restart'];
  return {
    namespace: input.namespace,
    secret: input.secret,
    backupName,
    backupSeq: input.backupSeq,
    deployments: input.deployments,
    oldFingerprint: old?.fingerprint,
    newFingerprint: content.fingerprint,
    endpoint: input.endpoint,
    backupManifest: backupManifest(input, backupName, old),
    secretManifest: secretManifest(input),
    warnings,
  };
}

/** Palette's rule, and every client's: a new certificate keeps the names the installed one covers. */
function assertNamesKept(oldNames: string[], input: PlanInput): void {
  const missing = oldNames.filter((n) => !input.content.names.includes(n));
  if (!missing.length) return;
  throw new NameChangeError(
    `${input.content.label} does not cover ${missing.join(', ')}, ` +
      `which the installed certificate covers (${input.namespace}/${input.secret})`,
    missing,
    'Clients using those names would break. Get a certificate that includes them, ' +
      'or pass --allow-name-change if the names really change.',
  );
}

/**
 * `<secret>-prev-<UTC stamp>-<tail>`: the random tail keeps two runs in the same second (two admins,
 * two hosts) from colliding on the name; the order of versions is ANN.backupSeq, not the name.
 */
function newBackupName(input: PlanInput): string {
  const tail = () =>
    Math.floor(Math.random() * 36 ** 4)
      .toString(36)
      .padStart(4, '0');
  let name = `${input.secret}-prev-${stamp(input.now)}-${input.suffix ?? tail()}`;
  while (input.existingBackups.includes(name)) name = `${input.secret}-prev-${stamp(input.now)}-${tail()}`;
  return name;
}

function backupManifest(
  input: PlanInput,
  name: string,
  old: { fingerprint: string; notAfter: string } | undefined,
): SecretObject {
  const { current } = input;
  const ann = current.metadata.annotations ?? {};
  const kept = (k: string) => (ann[k] ? { [k]: ann[k] } : {});
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: current.type ?? 'kubernetes.io/tls',
    metadata: {
      name,
      namespace: input.namespace,
      labels: { [LABEL_MANAGED]: 'xsoar-cert', [LABEL_PREVIOUS_OF]: input.secret },
      annotations: {
        [ANN.fingerprint]: old?.fingerprint ?? 'unknown',
        [ANN.notAfter]: old?.notAfter ?? 'unknown',
        [ANN.originalRv]: current.metadata.resourceVersion ?? '',
        [ANN.backedUpAt]: input.now.toISOString(),
        ...(input.backupSeq ? { [ANN.backupSeq]: String(input.backupSeq) } : {}),
        ...kept(ANN.installedAt),
        // The version kept keeps its anchor: audit --verify checks the history, not only the last change.
        ...kept(ANCHOR_ANNOTATION),
      },
    },
    data: { ...current.data }, // byte-identical copy of the data
  };
}

function secretManifest(input: PlanInput): SecretObject {
  const { current, content } = input;
  const drop = new Set(['kubectl.kubernetes.io/last-applied-configuration', LOCK_ANNOTATION]);
  const keepAnn = Object.fromEntries(Object.entries(current.metadata.annotations ?? {}).filter(([k]) => !drop.has(k)));
  const keepData = Object.entries(current.data ?? {}).filter(([k]) => !['tls.crt', 'tls.key', 'ca.crt'].includes(k));
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: current.type ?? 'kubernetes.io/tls',
    metadata: {
      name: input.secret,
      namespace: input.namespace,
      // The resourceVersion read in preflight: a concurrent change makes the replace fail (409), not overwrite it.
      resourceVersion: current.metadata.resourceVersion,
      labels: current.metadata.labels,
      annotations: {
        ...keepAnn,
        [ANN.fingerprint]: content.fingerprint,
        [ANN.notAfter]: content.notAfter,
        [ANN.installedAt]: input.now.toISOString(),
        [ANN.installedBy]: whoAmI(),
        ...(input.lock ? { [LOCK_ANNOTATION]: input.lock } : {}),
        ...(input.anchor ? { [ANCHOR_ANNOTATION]: input.anchor } : {}),
      },
    },
    data: { ...Object.fromEntries(keepData), ...content.data },
  };
}

/** The plan as shown by --dry-run: key material redacted. */
export function redactedPlan(p: Plan): Plan {
  const red = (s: SecretObject): SecretObject => ({
    ...s,
    data: Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [
        k,
        k.endsWith('.key') || k === 'key' ? `[REDACTED ${Buffer.from(v, 'base64').length} bytes]` : v,
      ]),
    ),
  });
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

/** A kept previous version: its name, the fingerprint of the certificate it holds, its place in the order. */
export interface BackupRef {
  name: string;
  fingerprint?: string;
  /** ANN.backupSeq; undefined for a version kept before the sequence existed (older than any with one). */
  seq?: number;
}

export function backupRef(s: SecretObject): BackupRef {
  const seq = Number(s.metadata.annotations?.[ANN.backupSeq]);
  return {
    name: s.metadata.name,
    fingerprint: s.metadata.annotations?.[ANN.fingerprint],
    seq: Number.isSafeInteger(seq) && seq > 0 ? seq : undefined,
  };
}

/** The sequence number of the next previous version (runs on one secret are serialized by its lock). */
export const nextBackupSeq = (refs: BackupRef[]) => Math.max(0, ...refs.map((r) => r.seq ?? 0)) + 1;

/** Newest first: by sequence, then by name (its UTC stamp) for versions kept before the sequence. */
const newestFirst = (a: BackupRef, b: BackupRef) =>
  (b.seq ?? 0) - (a.seq ?? 0) || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);

/** Previous versions, newest first (what rollback takes, what status lists). */
export const newestBackupsFirst = (backups: SecretObject[]): SecretObject[] =>
  [...backups].sort((a, b) => newestFirst(backupRef(a), backupRef(b)));

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
