// Kubernetes object names, checked wherever they come from (flags, environment, settings file,
// tenants file, markers, the cluster's own answers) before they reach a kubectl argument: a name
// like "--server=http://…" would otherwise be read by kubectl as a flag. Here too: names as
// request paths, and the check of the names the cluster answered (answered).
// Rules: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
import { InputError, KubectlError, UsageError } from '../errors.js';
import { hasControl, quoted } from '../printable.js';

/** RFC 1123 label: namespaces (at most 63). */
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1123 subdomain: secrets, deployments (at most 253). */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type NameKind = 'namespace' | 'secret' | 'backup' | 'deployment' | 'context';

export function isK8sName(kind: NameKind, value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (kind === 'namespace') return LABEL.test(value);
  // Context names are free text in a kubeconfig; only what could be read as a flag or break a line is refused.
  if (kind === 'context') {
    return value.length > 0 && value.length <= 253 && !value.startsWith('-') && !hasControl(value);
  }
  return value.length <= 253 && SUBDOMAIN.test(value);
}

/** Where a name came from: a flag or environment variable (exit 2), a file (exit 3), the cluster (exit 4). */
export interface NameOrigin {
  flag?: string;
  env?: string;
  file?: string;
  /** What the cluster was asked, e.g. "kubectl get secrets". */
  cluster?: string;
}

const RULES: Record<NameKind, string> = {
  namespace: 'lower-case letters, digits and inner hyphens, at most 63',
  secret: 'lower-case letters, digits, inner hyphens and dots, at most 253',
  backup: 'lower-case letters, digits, inner hyphens and dots, at most 253',
  deployment: 'lower-case letters, digits, inner hyphens and dots, at most 253',
  context: 'not starting with "-", no control characters',
};

/**
 * The name, or an error naming where it came from: a UsageError (exit 2) for flags and the
 * environment, an InputError (exit 3) naming the file for anything read from a file, a
 * KubectlError (exit 4) for an answer no API server gives.
 */
export function checkK8sName(kind: NameKind, value: unknown, from: NameOrigin): string {
  if (isK8sName(kind, value)) return value;
  // Shown escaped: a name with control characters is printed, never sent raw to the terminal.
  const shown = quoted(String(value));
  const what = `${shown} is not a valid ${kind} name (${RULES[kind]})`;
  if (from.file) {
    throw new InputError(`${from.file}: ${what}`, { file: from.file, hint: 'Fix the name in that file.' });
  }
  if (from.cluster) {
    throw new KubectlError(`${from.cluster} answered an object named ${shown}, not a valid ${kind} name`, {
      verb: 'get',
      args: [],
      reason: 'Invalid',
      hint: 'The API server (or the kubectl at XSOAR_CERT_KUBECTL) is not what it should be; nothing was changed.',
    });
  }
  if (from.env) throw new UsageError(`${from.env}: ${what}`, `Fix or unset ${from.env}.`);
  throw new UsageError(`${from.flag ?? kind}: ${what}`);
}

/** --proxy: "auto", or deployment names (with or without "deployment/"), comma-separated. */
export function checkProxy(value: string, from: NameOrigin): string {
  if (value === 'auto') return value;
  for (const d of value.split(',').map((x) => x.trim().replace(/^deployment\//, ''))) {
    if (d !== '') checkK8sName('deployment', d, from);
  }
  return value;
}

/** Throws unless `name` is a valid name of its kind; kubectl is then not run. */
export function refuseName(kind: NameKind, name: string): void {
  if (isK8sName(kind, name as unknown)) return;
  const why = name.startsWith('-') ? 'it would be read as a flag' : 'it is not a valid Kubernetes name';
  throw new KubectlError(`refusing to pass ${quoted(name)} to kubectl as a ${kind} name: ${why}`, {
    verb: 'get',
    args: [],
    reason: 'Invalid',
    hint: 'Names are RFC 1123 (lower-case letters, digits, "-" and "."); kubectl was not run.',
  });
}

/**
 * Names and namespaces of the objects the cluster answered, checked before any becomes an argument
 * (a deployment to restart, a backup to delete): an API server validates them (RFC 1123), so one
 * that is not is a sign that the server, or the kubectl binary, is not what it claims to be.
 */
export function answered<T>(what: string, items: T[]): T[] {
  for (const it of items) {
    const m = (it as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    const isDeployment = /deployment/.test(what) && (it as { kind?: string }).kind !== 'Secret';
    const kind: NameKind = isDeployment ? 'deployment' : /namespace/.test(what) ? 'namespace' : 'secret';
    checkK8sName(kind, m?.name, { cluster: `kubectl get ${what}` });
    if (m?.namespace !== undefined) checkK8sName('namespace', m.namespace, { cluster: `kubectl get ${what}` });
  }
  return items;
}
