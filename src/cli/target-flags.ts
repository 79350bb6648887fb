// Flags shared by install, rollback, status and renew: where the tenant's certificate lives.
import type { Command } from 'commander';
import { collect } from './help.js';
import type { SettingFlags } from '../ops/settings.js';
import { UsageError } from '../errors.js';
import { MAX_TIMEOUT_S } from '../ops/cluster-lock.js';

/** What addTargetFlags + addFleetFlags give an action (commander camel-cases the names). */
export interface TargetFlags extends SettingFlags {
  /** false with --no-confirm. */
  confirm?: boolean;
  namespace?: string[];
  allNamespaces?: boolean;
  selector?: string;
  tenantsFile?: string;
  parallel?: string;
}

/** `manyContexts`: --context repeatable (install, renew, status run each cluster in turn: ops/clusters.ts). */
export function addTargetFlags(cmd: Command, manyContexts = false): Command {
  if (manyContexts)
    cmd.option(
      '--context <ctx>',
      'the kubeconfig context (repeatable: -n, -A -l and the default tenant in each; env XSOAR_CERT_CONTEXT)',
      collect,
      [],
    );
  else cmd.option('--context <ctx>', 'the kubeconfig context (env XSOAR_CERT_CONTEXT)');
  return cmd
    .option(
      '-n, --namespace <ns>',
      'the tenant namespace (repeatable for several tenants; env XSOAR_CERT_NAMESPACE; default xsoar)',
      collect,
      [],
    )
    .option('--secret <name>', 'the TLS secret (env XSOAR_CERT_SECRET; default xsoar-tls)')
    .option(
      '--proxy <deployment/NAME|auto>',
      'the deployment(s) serving the secret, or auto: those that mount it (env XSOAR_CERT_PROXY)',
    )
    .option(
      '--endpoint <host:port>',
      'where the tenant serves HTTPS, to confirm the live certificate (env XSOAR_CERT_ENDPOINT)',
    )
    .option('--servername <name>', 'the TLS server name (SNI) to ask the endpoint for')
    .option('--kubeconfig <file>', 'the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--config <file>', 'settings file (default: $XSOAR_CERT_CONFIG or ~/.config/xsoar-cert/config.json)');
}

/** install, renew and rollback: --no-confirm. */
export function addConfirmFlag(cmd: Command): Command {
  return cmd.option(
    '--no-confirm',
    'do not check --endpoint before the change, nor confirm the live certificate after it',
  );
}

/** --timeout: a positive number of seconds, checked before anything happens. */
export function parseTimeout(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(String(value).trim()) || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`--timeout must be a number of seconds, not "${value}"`);
  // The in-cluster lock's lifetime follows from it (cluster-lock.ts): an unbounded timeout is an unbounded lock.
  if (n > MAX_TIMEOUT_S) throw new UsageError(`--timeout must be at most ${MAX_TIMEOUT_S} seconds, not ${value}`);
  return n;
}

/** Several tenants at once: install, renew and status. */
export function addFleetFlags(cmd: Command): Command {
  return cmd
    .option('-A, --all-namespaces', 'every namespace matching --selector')
    .option('-l, --selector <label=value>', 'with --all-namespaces: which namespaces are tenants')
    .option('--tenants-file <file>', 'a file with one "[context:]namespace[/secret] [host:port]" per line')
    .option('--parallel <n>', 'how many tenants at a time (default 4)');
}

export const SETTINGS_HELP = `
SETTINGS
  namespace, secret, proxy, endpoint and context come from, in order of precedence:
  flags > environment (XSOAR_CERT_NAMESPACE, XSOAR_CERT_SECRET, XSOAR_CERT_PROXY,
  XSOAR_CERT_ENDPOINT, XSOAR_CERT_CONTEXT) > config file (JSON, --config or
  ~/.config/xsoar-cert/config.json) > defaults (namespace xsoar, secret xsoar-tls, proxy auto).
  "xsoar-cert status" shows where each value came from.
`;
