// One annotation of every secret in a namespace (or all namespaces). The list holds the secrets'
// data too (the sandbox, like older API servers, has no metadata-only lists): only the names, the
// label and the annotation are kept, and the rest is dropped with the answer.
import type { Kubectl } from './kubectl.js';
import { itemsOf } from './wire.js';
import { isK8sName } from './names.js';

export interface SecretAnnotation {
  namespace: string;
  name: string;
  /** The secret a previous version belongs to (label xsoar-cert.io/previous-of), else its own name. */
  of: string;
  value: string;
}

/** Secrets carrying `annotation`, with its value (where `kubectl` points: one namespace or all). */
export async function secretsWithAnnotation(
  kubectl: Kubectl,
  annotation: string,
  previousOfLabel: string,
): Promise<SecretAnnotation[]> {
  const r = await kubectl.send('get', { method: 'GET', path: kubectl.path('', 'secrets') });
  const rows = itemsOf<{
    metadata?: {
      namespace?: string;
      name?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
  }>(r).map((s) => {
    const m = s.metadata ?? {};
    return [m.namespace, m.name, m.labels?.[previousOfLabel], m.annotations?.[annotation]].join('\t');
  });
  const out: SecretAnnotation[] = [];
  for (const line of rows) {
    const [namespace, name, of, value] = line.split('\t');
    if (!value || !isK8sName('namespace', namespace) || !isK8sName('secret', name)) continue;
    out.push({ namespace, name, of: of && isK8sName('secret', of) ? of : name, value });
  }
  return out;
}
