// The Kubernetes TLS secret target (Cortex XSOAR 8 on-prem, a Helm-installed ingress): a session
// reads every tenant's secret, its previous versions, the deployments that serve it and the user's
// permissions, then plans and runs each step through one of the two Access ways (steps.ts,
// batched.ts). The engine sees only the TargetSession interface.
import { BusyError, KubectlError } from '../../../errors.js';
import type { Kubectl } from '../../../k8s/kubectl.js';
import type { Reporter } from '../../reporter.js';
import { assertUnlocked } from '../../cluster-lock.js';
import { ANCHOR_ANNOTATION } from '../../../audit/anchor.js';
import { retrying } from '../../retry.js';
import { bounded } from '../../../pool.js';
import type {
  Change,
  Fail,
  Found,
  NewContent,
  RunMarks,
  TargetKind,
  TargetSession,
  TenantRef,
} from '../../txn/types.js';
import {
  assertTlsSecret,
  backupRef,
  missingPermissions,
  nextBackupSeq,
  plan,
  redactedPlan,
  resolveProxy,
  secretFingerprint,
  type Plan,
} from './plan.js';
import {
  namespacedAccess,
  readPreflight,
  type Access,
  type Preflight,
  type SecretTenant,
  type StepFail,
} from './steps.js';
import { clusterAccess } from './batched.js';
import { rollbackTo } from './recovery.js';

export interface SecretTargetOptions {
  /** 'auto' or deployment names (--proxy). */
  proxy: string;
  parallel?: number;
  /** One tenant: the preflight reads, when the caller started them early (readPreflight). */
  preflight?: Promise<Preflight>;
}

/** Kubernetes TLS secrets reached through `kubectl`; `op` names the run in messages. */
export function kubernetesSecrets(kubectl: Kubectl, o: SecretTargetOptions, op: string): TargetKind {
  return {
    async open(ts, out, refuse) {
      const xs = ts.map((t): SecretTenant => ({
        t,
        k: kubectl.namespace === t.namespace ? kubectl : kubectl.forNamespace(t.namespace),
        allDeployments: [],
        backups: [],
        deployments: [],
        restartedGeneration: new Map(),
      }));
      const byRef = new Map(xs.map((x) => [x.t, x]));
      const access = await preflight(kubectl, xs, o, op, out, (x, err) => refuse(x.t, err));
      return session(byRef, access, o);
    },
  };
}

/** The read-only cluster state of every tenant: cluster-wide lists, or each tenant's namespace. */
async function preflight(
  kubectl: Kubectl,
  xs: SecretTenant[],
  o: SecretTargetOptions,
  op: string,
  out: Reporter,
  refuse: StepFail,
): Promise<Access> {
  const solo = xs.length === 1;
  const parallel = o.parallel ?? 4;
  if (!solo) {
    const namespaces = [...new Set(xs.map((x) => x.t.namespace))];
    out.step(`Preflight: ${xs.length} tenants in ${namespaces.length} namespaces`);
    const wide = await clusterAccess(kubectl, xs, namespaces, refuse, parallel);
    if (wide) return wide;
    const doing = op === 'renew' ? 'renewing' : 'installing';
    out.warn(`this user cannot list secrets or deployments across namespaces: ${doing} one tenant at a time`);
  } else out.step(`Preflight: ${xs[0]!.t.namespace}/${xs[0]!.t.secret}`);
  await bounded(xs, parallel, async (x) => {
    try {
      const [cur, deployments, perms, backups] = await ((solo ? o.preflight : undefined) ??
        readPreflight(x.k, x.t.secret));
      if (!cur.found)
        throw new KubectlError(`secret "${x.t.secret}" not found in ${x.k.where()}`, {
          verb: 'get',
          args: [],
          reason: 'NotFound',
          hint: 'Check --namespace and --secret; "xsoar-cert status" lists the TLS secrets it can see.',
        });
      if (perms) {
        const miss = missingPermissions(perms, x.t.secret);
        if (miss.required.length)
          throw new KubectlError(`permission denied: this user cannot ${miss.required.join(', ')} in ${x.k.where()}`, {
            verb: 'auth',
            args: [],
            reason: 'Forbidden',
            hint: `Ask for an RBAC role that grants: ${miss.required.join('; ')}. Nothing was changed.`,
          });
        for (const m of miss.optional) out.warn(`this user cannot ${m}: old backups will not be pruned`);
      }
      x.current = cur.object;
      x.allDeployments = deployments;
      x.backups = backups.map(backupRef);
    } catch (err) {
      refuse(x, err);
    }
  });
  return namespacedAccess(parallel);
}

function session(byRef: Map<TenantRef, SecretTenant>, access: Access, o: SecretTargetOptions): TargetSession {
  const solo = byRef.size === 1;
  const get = (t: TenantRef) => byRef.get(t)!;
  const many = (ts: TenantRef[]) => ts.map(get);
  // The engine hears of a failure by its TenantRef; later steps of this session skip that tenant.
  const relay =
    (fail: Fail): StepFail =>
    (x, err, notApplied) => {
      x.failed = true;
      fail(x.t, err, notApplied);
    };
  return {
    where: (t) => (solo ? get(t).k.where() : `namespace "${t.namespace}"`),
    check: (t) => checkTenant(get(t), o.proxy, solo ? get(t).k.where() : `namespace "${t.namespace}"`),
    plan: (t, content, marks, opts) => planTenant(get(t), content, marks, opts),
    async recheck(t) {
      const x = get(t);
      const now = await retrying(() => x.k.getSecret(t.secret)).catch(() => undefined);
      if (!now?.found || now.object.metadata.resourceVersion === x.current!.metadata.resourceVersion) return;
      assertUnlocked(now.object, x.k.where());
      throw new BusyError(
        `secret ${t.namespace}/${t.secret} changed while xsoar-cert was checking ${t.endpoint}: ` +
          'another run is changing it',
        'Run "xsoar-cert status", then try again. Nothing was changed.',
      );
    },
    signal: (s) => {
      for (const x of byRef.values()) x.k.signal = s;
      access.signal(s);
    },
    backup: (ts, out, fail) => access.backup(many(ts), out, relay(fail)),
    apply: (ts, out, fail) => access.apply(many(ts), out, relay(fail)),
    restart: (ts, timeoutS, out, fail, check) => access.restart(many(ts), timeoutS, out, relay(fail), check),
    release: (ts, out, fail) => access.release(many(ts), out, relay(fail)),
    prune: (ts, out) => access.prune(many(ts), out),
    restore: (t, opts, out) => restoreTenant(get(t), opts, out),
  };
}

/** Pure checks on what was read: a TLS secret, not locked, which proxy serves it. */
function checkTenant(x: SecretTenant, proxy: string, where: string): Found {
  assertTlsSecret(x.current!, where);
  assertUnlocked(x.current!, where);
  x.deployments = resolveProxy(x.allDeployments, x.t.secret, proxy, where);
  const proxies = x.deployments.map((d) => `deployment/${d}`).join(', ');
  const rv = x.current!.metadata.resourceVersion;
  const line = `secret ${x.t.namespace}/${x.t.secret} found (resourceVersion ${rv}); proxy: ${proxies}`;
  return { oldFingerprint: secretFingerprint(x.current), line, restarts: x.deployments };
}

/** What the change writes, once the new certificate is known (after checkTenant). */
function planTenant(
  x: SecretTenant,
  content: NewContent,
  marks: RunMarks,
  o: { allowNameChange?: boolean; confirmEndpoint: boolean },
): Change {
  const endpoint = o.confirmEndpoint ? x.t.endpoint : undefined;
  const p = plan({
    namespace: x.t.namespace,
    secret: x.t.secret,
    current: x.current!,
    content,
    deployments: x.deployments,
    endpoint,
    now: new Date(),
    existingBackups: x.backups.map((b) => b.name),
    backupSeq: nextBackupSeq(x.backups),
    allowNameChange: o.allowNameChange,
    ...marks,
  });
  x.plan = p;
  x.label = content.label;
  x.lock = marks.lock;
  return {
    oldFingerprint: p.oldFingerprint,
    newFingerprint: p.newFingerprint,
    backup: p.backupName,
    restarts: p.deployments,
    warnings: p.warnings,
    steps: planSteps(p),
    detail: redactedPlan(p),
  };
}

/** The plan in words, as the confirmation prompt shows it. */
function planSteps(p: Plan): string[] {
  return [
    `keep the current secret as ${p.namespace}/${p.backupName}` +
      (p.oldFingerprint ? ` (${p.oldFingerprint.slice(0, 23)}…)` : ''),
    `replace ${p.namespace}/${p.secret} with ${p.newFingerprint.slice(0, 23)}…`,
    `restart ${p.deployments.map((d) => `deployment/${d}`).join(', ')} and wait for the rollout`,
    p.endpoint
      ? `confirm ${p.endpoint} serves the new certificate over TLS 1.2 and 1.3`
      : '(no endpoint given: the live certificate will not be confirmed)',
  ];
}

/** The fenced restore of the version this run kept, keeping the run's audit anchor on the secret. */
function restoreTenant(
  x: SecretTenant,
  o: { endpoint?: string; servername?: string; timeoutS: number },
  out: Reporter,
): Promise<void> {
  const p = x.plan!;
  const anchor = p.secretManifest.metadata.annotations?.[ANCHOR_ANNOTATION];
  // The restore is a change on record too: it keeps the secret's own annotations but this run's anchor.
  const annotations = { ...x.current!.metadata.annotations, ...(anchor ? { [ANCHOR_ANNOTATION]: anchor } : {}) };
  return rollbackTo(
    x.k,
    {
      namespace: x.t.namespace,
      secret: x.t.secret,
      data: p.backupManifest.data ?? {},
      ours: p.secretManifest.data,
      annotations,
      lock: x.lock,
      deployments: x.deployments,
      restartNeeded: true /* a restart may have been in flight: always restart after restoring */,
      endpoint: o.endpoint,
      servername: o.servername,
      fingerprint: p.oldFingerprint,
      timeoutS: o.timeoutS,
    },
    out,
  );
}
