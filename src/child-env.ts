// The environment every child process gets (kubectl, the --dns-hook script): a leaf module so
// that both the cluster wrapper and the ACME source use the one filter.

/**
 * Our environment, less every XSOAR_CERT_* variable (the passphrase, an ACME EAB key: no child
 * needs them, and a child's environment is readable by its own user in /proc), plus
 * KUBECTL_COMMAND_HEADERS=false. changesets strips OTPs from children likewise.
 */
export function childEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('XSOAR_CERT_')) out[k] = v;
  out.KUBECTL_COMMAND_HEADERS = 'false';
  return out;
}
