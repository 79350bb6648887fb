// `xsoar-cert check`: a monitoring plugin for Nagios, Icinga, Zabbix or Checkmk, by the
// monitoring-plugins guidelines (https://www.monitoring-plugins.org/doc/guidelines.html): exactly
// one line on stdout, "STATE - summary | perfdata", and exit 0 OK, 1 WARNING, 2 CRITICAL,
// 3 UNKNOWN. Every failure, bad flags included, is caught into that line and exit 3: this command
// answers its own exit code instead of going through main's (where a usage error is 2).
import { writeSync } from 'node:fs';
import type { Command, CommanderError } from 'commander';
import { examples } from '../help.js';
import { addFleetFlags, addTargetFlags, parseTimeout, type TargetFlags } from '../target-flags.js';
import { UsageError, XsoarCertError } from '../../errors.js';
import { redact } from '../../redact.js';
import { printable } from '../../printable.js';

type CheckFlags = TargetFlags & { warning?: string; critical?: string; metricsFile?: string; timeout: string };

const CHECK_HELP =
  examples(
    'xsoar-cert check -n xsoar --endpoint xsoar.example.com:443',
    '# every tenant of the file (endpoints from its second column), and the metrics for node_exporter:',
    'xsoar-cert check --tenants-file tenants.txt --metrics-file /var/lib/prometheus/node-exporter/xsoar-cert.prom',
    'xsoar-cert check -A -l app.kubernetes.io/part-of=xsoar --warning 30 --critical 10',
  ) +
  `
STATES
  WARNING   fewer than --warning days left, or the renewal is failing (its state records failures)
  CRITICAL  fewer than --critical days left, expired, or the endpoint does not serve the installed
            certificate (or does not answer TLS)
  UNKNOWN   a tenant cannot be read (no secret, no certificate, the cluster does not answer), or the
            check itself failed (bad flags, a bad setting, --timeout reached)
  Several tenants: the worst state wins (OK < WARNING < UNKNOWN < CRITICAL), and the line names the
  tenants in it. Perfdata: days_left (the fewest) and one 'namespace/secret'=Nd per tenant.

EXIT CODES (the monitoring-plugins convention, not the other commands')
  0    OK
  1    WARNING
  2    CRITICAL
  3    UNKNOWN, usage errors included (a plugin must not exit 2 for bad flags: that reads as CRITICAL)
`;

export function register(program: Command): void {
  const cmd = program
    .command('check')
    .description(
      'monitoring plugin (Nagios, Icinga, Zabbix): one line "OK|WARNING|CRITICAL|UNKNOWN - … | perfdata", ' +
        'exit 0/1/2/3',
    );
  addFleetFlags(addTargetFlags(cmd))
    .option('-w, --warning <days>', 'WARNING when fewer than this many days are left (default 21)')
    .option('-c, --critical <days>', 'CRITICAL when fewer than this many days are left (default 7)')
    .option('--metrics-file <file>', 'also write the Prometheus metrics to this file (node_exporter textfile)')
    .option('-t, --timeout <seconds>', 'UNKNOWN when there is no answer within this long', '30')
    .allowExcessArguments(false)
    .addHelpText('after', CHECK_HELP)
    // commander's own messages go into the one line, not to stderr.
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .exitOverride((err: CommanderError) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') throw err;
      emitSync(3, `UNKNOWN - usage: ${usageText(err.message.replace(/^error: /, ''))}`);
    })
    .action(async (flags: CheckFlags) => runCheckCommand(flags));
}

const usageText = (m: string) => `${clean(m)} (see xsoar-cert check --help)`;
const clean = (m: string) => printable(redact(m)).replace(/\|/g, '/');

/** The line for a failure of the check as a whole. */
export function errorLine(err: unknown): string {
  if (err instanceof UsageError) return `UNKNOWN - usage: ${usageText(err.message)}`;
  if (err instanceof XsoarCertError) return `UNKNOWN - ${clean(err.message)}`;
  return `UNKNOWN - internal error: ${clean(err instanceof Error ? err.message : String(err))}`;
}

async function runCheckCommand(flags: CheckFlags): Promise<never> {
  let code = 3;
  let line: string;
  try {
    const timeoutS = parseTimeout(flags.timeout);
    const { runCheck } = await import('../../ops/check.js');
    const { pluginLine } = await import('../../ops/health-verdict.js');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new XsoarCertError(`no answer within ${timeoutS} s (--timeout)`, 3)),
        timeoutS * 1000,
      );
    });
    const outcome = await Promise.race([runCheck({ ...flags, where: flags, timeoutS }), late]).finally(() =>
      clearTimeout(timer),
    );
    code = outcome.state;
    line = pluginLine(outcome);
  } catch (err) {
    line = errorLine(err);
  }
  await new Promise<void>((resolve) => process.stdout.write(line + '\n', () => resolve()));
  process.exit(code);
}

/** From commander's synchronous exit hook: the line, then the exit code, at once. */
function emitSync(code: number, line: string): never {
  try {
    writeSync(1, line + '\n');
  } catch {
    process.stdout.write(line + '\n');
  }
  process.exit(code);
}
