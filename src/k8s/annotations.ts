// One annotation of every secret in a namespace (or all namespaces), without the secrets' data:
// jsonpath makes kubectl print only names and that annotation, so no key material reaches us.
import { ALL_NAMESPACES, Kubectl } from './kubectl.js';
import { isK8sName } from './names.js';

export interface SecretAnnotation {
  namespace: string;
  name: string;
  /** The secret a previous version belongs to (label xsoar-cert.io/previous-of), else its own name. */
  of: string;
  value: string;
}

const escapeKey = (k: string) => k.replace(/\./g, '\\.');

/** Secrets carrying `annotation`, with its value (where `kubectl` points: one namespace or all). */
export async function secretsWithAnnotation(
  kubectl: Kubectl,
  annotation: string,
  previousOfLabel: string,
): Promise<SecretAnnotation[]> {
  const cols = [
    '.metadata.namespace',
    '.metadata.name',
    `.metadata.labels.${escapeKey(previousOfLabel)}`,
    `.metadata.annotations.${escapeKey(annotation)}`,
  ];
  const template = `{range .items[*]}${cols.map((c) => `{${c}}`).join('{"\\t"}')}{"\\n"}{end}`;
  const all = kubectl.namespace === ALL_NAMESPACES ? ['--all-namespaces'] : [];
  const r = await kubectl.call('get', ['secrets', ...all, '-o', `jsonpath=${template}`]);
  const out: SecretAnnotation[] = [];
  for (const line of r.stdout.split('\n')) {
    const [namespace, name, of, value] = line.split('\t');
    if (!value || !isK8sName('namespace', namespace) || !isK8sName('secret', name)) continue;
    out.push({ namespace, name, of: of && isK8sName('secret', of) ? of : name, value });
  }
  return out;
}
