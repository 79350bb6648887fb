// `xsoar-cert probe`: which TLS versions and which chain an endpoint really serves.
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import type { Output } from '../output.js';
import type { ProbeResult } from '../../net/probe.js';

export function register(program: Command): void {
  program
    .command('probe')
    .description(
      'check live endpoints: TLS 1.0-1.3 accepted, chain served (order, missing intermediate), ' +
        'expiry, host match, trust',
    )
    .argument('<host[:port]...>', 'endpoints; without a port, every --ports entry')
    .option('--ports <list>', 'ports to try for hosts given without one, e.g. 443,18501-18510', '443')
    .option('--servername <name>', 'the TLS server name (SNI) to ask for and check (default: the host)')
    .option('--ca <file>', 'the root CA to trust (default: the system trust store)')
    .option('--timeout <ms>', 'per handshake', '5000')
    .option('--json', 'print an array of per-endpoint results')
    .addHelpText(
      'after',
      helpAfter(
        'xsoar-cert probe xsoar.example.com',
        '# main, hosts and tenants of a multi-tenant deployment:',
        'xsoar-cert probe main.example.com host1.example.com --ports 443,18501-18510 --ca root.pem',
      ),
    )
    .action(async (hosts: string[], flags: ProbeFlags) => runProbe(hosts, flags));
}

interface ProbeFlags {
  ports: string;
  servername?: string;
  ca?: string;
  timeout: string;
  json?: boolean;
}

async function runProbe(hosts: string[], flags: ProbeFlags): Promise<void> {
  const { parsePorts, expandEndpoints, probeAll } = await import('../../net/probe.js');
  const { Output } = await import('../output.js');
  const { UsageError, CheckFailedError } = await import('../../errors.js');
  const out = new Output({ json: flags.json });
  const timeoutMs = Number(flags.timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 100)
    throw new UsageError(`--timeout takes milliseconds (at least 100), not "${flags.timeout}"`);
  const endpoints = expandEndpoints(hosts, parsePorts(flags.ports));
  const { anchors, anchorSource } = await trustAnchors(flags.ca);
  const results = await out.wait(
    `probing ${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}`,
    probeAll(endpoints, { servername: flags.servername, anchors, anchorSource, timeoutMs }),
  );
  if (flags.json) out.emit(results);
  else printProbes(results, out);
  const bad = results.filter((r) => r.status !== 'ok').length;
  if (bad) throw new CheckFailedError(`${bad} of ${results.length} endpoint(s) failed the probe`);
}

/** --ca, or the system trust store. */
async function trustAnchors(ca: string | undefined) {
  if (!ca) {
    const anchors = (await import('../../pki/trust-store.js')).systemAnchors();
    return { anchors, anchorSource: 'the system trust store' };
  }
  const { readBundle } = await import('../../pki/parse.js');
  const anchors = (await readBundle(ca)).certs;
  if (anchors.length === 0) {
    const { InputError } = await import('../../errors.js');
    throw new InputError(`${ca}: holds no certificate`, { file: ca });
  }
  return { anchors, anchorSource: ca };
}

/** One row per endpoint, then each problem and warning on stderr. */
function printProbes(results: ProbeResult[], out: Output): void {
  const yes = (b: boolean | undefined) => (b === undefined ? '-' : b ? 'yes' : 'NO');
  const chain = (r: ProbeResult) =>
    r.missingIntermediate ? 'incomplete' : !r.orderOk ? 'bad order' : `${r.chain.length} cert(s)`;
  const rows = results.map((r) =>
    r.status === 'unreachable'
      ? [r.endpoint, 'unreachable', '', '', '', '', r.status.toUpperCase()]
      : [
          r.endpoint,
          ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']
            .map((v) => (r.versions[v] ? v.replace('TLSv', '') : '-'))
            .join(' '),
          `${r.daysLeft} days`,
          chain(r),
          yes(r.hostMatch),
          yes(r.trusted),
          r.status.toUpperCase(),
        ],
  );
  const head = ['ENDPOINT', 'TLS', 'EXPIRES', 'CHAIN', 'HOST', 'TRUSTED', 'STATUS'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(w[i]!))
      .join('  ')
      .trimEnd();
  out.result(line(head));
  for (const r of rows) out.result(line(r));
  for (const r of results) {
    if (r.reason) out.fail(`${r.endpoint}: ${r.reason}`);
    for (const p of r.problems) out.fail(`${r.endpoint}: ${p}`);
    for (const wv of r.warnings) out.warn(`${r.endpoint}: ${wv}`);
  }
}
