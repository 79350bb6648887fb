// Command lines the tests run often, built from a minted chain (test-ca.ts) and a tenant.
import type { MintedChain } from './test-ca.js';

export interface InstallArgsOptions {
  /** --host; 'localhost' unless given. */
  host?: string;
  /** false: no --chain (the leaf goes in alone, with --ca). */
  chain?: boolean;
}

/** `install --cert LEAF --chain CHAIN --key KEY --ca ROOT --host localhost` with m's files, then `extra`. */
export function installArgs(m: MintedChain, extra: readonly string[] = [], opts: InstallArgsOptions = {}): string[] {
  return [
    'install',
    '--cert',
    m.files.leaf,
    ...(opts.chain === false ? [] : ['--chain', m.files.chain]),
    '--key',
    m.files.key,
    '--ca',
    m.files.root,
    '--host',
    opts.host ?? 'localhost',
    ...extra,
  ];
}

/** `-n NAMESPACE --secret SECRET --endpoint HOST:PORT`: the one tenant an install or renew acts on. */
export const targetArgs = (t: { namespace: string; secret: string; endpoint: string }): string[] => [
  '-n',
  t.namespace,
  '--secret',
  t.secret,
  '--endpoint',
  t.endpoint,
];
