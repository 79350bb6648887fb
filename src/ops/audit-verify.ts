// `audit --verify`: the local hash chain, then the anchors the changes wrote into the cluster
// (audit/anchor.ts). Without the anchors a log cut short, emptied or rewritten whole still
// "verifies"; so the cluster is asked unless --local-only says the file alone is to be checked.
import { KubectlError, XsoarCertError } from '../errors.js';
import { Kubectl } from '../k8s/kubectl.js';
import { secretsWithAnnotation, type SecretAnnotation } from '../k8s/annotations.js';
import { ANCHOR_ANNOTATION, checkAnchors, logId, type AnchorCheck } from '../audit/anchor.js';
import { auditFile, readAudit, verifyAudit, type AuditVerify } from '../audit/log.js';
import { bounded } from '../pool.js';
import { readMarker } from './state.js';
import { LABEL_PREVIOUS_OF } from './targets/k8s-secret/plan.js';

export interface AuditVerifyOptions {
  localOnly?: boolean;
  /** Namespaces to read anchors from besides those the log names (an emptied log names none). */
  namespaces: string[];
  context?: string;
  kubeconfig?: string;
}

export interface AuditVerifyReport extends AuditVerify {
  file: string;
  anchors?: AnchorCheck & { scope: string };
}

/** Namespaces to read per context: those of the log's records, and the ones asked for. */
function scopes(records: { namespace?: string; context?: string }[], o: AuditVerifyOptions): Map<string, Set<string>> {
  const by = new Map<string, Set<string>>();
  const add = (ctx: string | undefined, ns: string | undefined) => {
    if (!ns) return;
    const key = ctx ?? o.context ?? '';
    by.set(key, (by.get(key) ?? new Set()).add(ns));
  };
  for (const r of records) add(r.context, r.namespace);
  for (const ns of o.namespaces) add(o.context, ns);
  return by;
}

/** Every anchor in one cluster: across namespaces in one call where allowed, else namespace by namespace. */
async function anchorsIn(
  kubectl: Kubectl,
  namespaces: Set<string>,
): Promise<{ found: SecretAnnotation[]; scope: string }> {
  try {
    return {
      found: await secretsWithAnnotation(kubectl.acrossNamespaces(), ANCHOR_ANNOTATION, LABEL_PREVIOUS_OF),
      scope: 'all namespaces',
    };
  } catch (err) {
    if (!(err instanceof KubectlError) || err.reason !== 'Forbidden') throw err;
  }
  const found: SecretAnnotation[] = [];
  await bounded([...namespaces], 8, async (ns) => {
    found.push(...(await secretsWithAnnotation(kubectl.forNamespace(ns), ANCHOR_ANNOTATION, LABEL_PREVIOUS_OF)));
  });
  return { found, scope: [...namespaces].sort().join(', ') };
}

const pendingMarker = (ns: string, secret: string) => {
  try {
    return readMarker(ns, secret) !== undefined;
  } catch {
    return false; // a damaged marker is reported by the next run itself
  }
};

export async function verifyAuditLog(o: AuditVerifyOptions): Promise<AuditVerifyReport> {
  const file = auditFile();
  const chain = { file, ...verifyAudit(file) };
  if (o.localOnly) return chain;
  const { records } = readAudit(file);
  const found: SecretAnnotation[] = [];
  const scope: string[] = [];
  for (const [ctx, namespaces] of scopes(records, o)) {
    const kubectl = new Kubectl({
      namespace: [...namespaces][0]!,
      context: ctx || undefined,
      kubeconfig: o.kubeconfig,
    });
    try {
      const r = await anchorsIn(kubectl, namespaces);
      found.push(...r.found);
      scope.push(`${r.scope}${ctx ? ` (context ${ctx})` : ''}`);
    } catch (err) {
      if (!(err instanceof XsoarCertError)) throw err;
      throw new KubectlError(
        `cannot read the audit anchors from the cluster${ctx ? ` (context ${ctx})` : ''}: ${err.message}`,
        {
          verb: 'get',
          args: [],
          hint:
            'Without them a log cut short or rewritten whole would not show. ' +
            'Pass --local-only to check the file alone.',
        },
      );
    }
  }
  const check = checkAnchors(
    records,
    found.map((f) => ({ namespace: f.namespace, secret: f.name, of: f.of, value: f.value })),
    logId(file),
    pendingMarker,
  );
  return { ...chain, anchors: { ...check, scope: scope.join('; ') || 'none (no tenant known: pass -n)' } };
}
