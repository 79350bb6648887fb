// `xsoar-cert install`: replace the tenant's certificate as a transaction (ops/install.ts); this
// file maps the flags to options, answers the questions and renders the outcome.
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';
import { addConfirmFlag, addFleetFlags, addTargetFlags, SETTINGS_HELP, type TargetFlags } from '../target-flags.js';
import type { Output } from '../output.js';
import type { VerifyFilesResult } from '../../ops/verify-files.js';
import type { InstallOptions, InstallOutcome, InstallPrompts } from '../../ops/install.js';
import type { VerifyReport } from '../../pki/types.js';
import { acceptedLints, defaultConfigFile } from '../../ops/settings.js';
import { addFileFlags, FILES_HELP } from '../file-flags.js';
import type { FileTargetFlags } from '../../ops/targets/files/presets.js';

export interface InstallFlags extends TargetFlags, FileTargetFlags {
  cert?: string;
  key?: string;
  chain: string[];
  ca?: string;
  host: string[];
  passphraseFile?: string;
  /** Policy lints accepted (pki/accept.ts). */
  accept: string[];
  timeout: string;
  allowNameChange?: boolean;
  keepRequest?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  quiet?: boolean;
  interactive?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('install')
    .description(
      'verify, back up, replace the TLS secret, restart the proxy, confirm the live certificate; ' +
        'roll back on any failure',
    )
    .option('--cert <file>', 'the certificate (PEM, DER or PKCS#12)')
    .option(
      '--key <file>',
      'its private key (default: the key of the pending request the certificate completes, see csr)',
    )
    .option('--chain <file>', 'intermediate certificates (repeatable)', collect, [])
    .option('--ca <file>', 'the root CA (stored as ca.crt; default: the system trust store)')
    .option('--host <name|ip>', 'a name or IP the certificate must cover (repeatable)', collect, [])
    .option('--passphrase-file <file>', 'the key passphrase (or XSOAR_CERT_PASSPHRASE)')
    .option(
      '--accept <lint-id>',
      'accept a policy lint for known clients, e.g. lint.lifetime (repeatable)',
      collect,
      [],
    );
  addFileFlags(addConfirmFlag(addFleetFlags(addTargetFlags(cmd, true))), true)
    .option('--timeout <seconds>', 'how long to wait for the rollout', '120')
    .option('--allow-name-change', 'allow a certificate that drops names the installed one covers')
    .option('--keep-request', "keep the pending request's key after the certificate completing it is installed")
    .option('--dry-run', 'check everything and show the plan (key redacted); change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print only the result')
    .option('-i, --interactive', 'ask for the files, names and target step by step (a terminal is needed)')
    .addHelpText('after', SETTINGS_HELP + FILES_HELP + helpAfter(...EXAMPLES))
    .action(async (flags: InstallFlags) => runInstall(flags));
}

const EXAMPLES = [
  'xsoar-cert install --cert tenant.pem --key tenant-key.pem --chain intermediate.pem --ca root.pem ' +
    '--host xsoar.example.com --endpoint xsoar.example.com:443',
  'xsoar-cert install --cert tenant.p12 --passphrase-file pass.txt -n tenant-7 --dry-run',
  'xsoar-cert install --interactive     # a wizard: files, checks, target, plan, confirm',
  '# several tenants, 8 at a time (tenants file: "[context:]namespace[/secret] [host:port]" per line):',
  'xsoar-cert install --cert t.pem --key t-key.pem --tenants-file tenants.txt --parallel 8 --yes',
  'xsoar-cert install --cert t.pem --key t-key.pem --all-namespaces --selector app.kubernetes.io/part-of=xsoar --yes',
  '# two clusters, every tenant namespace in each (one preflight and one batch per cluster):',
  'xsoar-cert install --cert t.pem --key t-key.pem --context site-a --context site-b -A -l part-of=xsoar --yes',
  '# files on this host (nginx), reloaded and confirmed live:',
  'xsoar-cert install --cert t.pem --key t-key.pem --files /etc/nginx/tls/t.pem,/etc/nginx/tls/t.key ' +
    '--restart-cmd "systemctl reload nginx" --endpoint 127.0.0.1:443 --yes',
  'xsoar-cert install --cert t.pem --key t-key.pem --ca root.pem --preset xsoar6 --endpoint 127.0.0.1:443',
  'xsoar-cert install --cert t.pem --key t-key.pem --preset xsoar8 --domain example.com -n xsoar',
];

/**
 * The install for these flags. `pre` is the wizard's verification of the same files (already
 * shown); the wizard calls back here once it has every answer.
 */
export async function runInstall(flags: InstallFlags, pre?: VerifyFilesResult): Promise<void> {
  if (flags.interactive && !pre) {
    const { runWizard } = await import('../wizard.js');
    return runWizard(flags, runInstall);
  }
  const { UsageError } = await import('../../errors.js');
  if (!flags.cert)
    throw new UsageError(
      'install needs --cert FILE (and --key FILE)',
      'Example: xsoar-cert install --cert tenant.pem --key tenant-key.pem --host xsoar.example.com ' +
        '(or, on a terminal, xsoar-cert install --interactive)',
    );
  const { parseTimeout } = await import('../target-flags.js');
  const o = installOptions(flags, flags.cert, parseTimeout(flags.timeout));
  const { Output } = await import('../output.js');
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const { fileTargetOf } = await import('../file-flags.js');
  const files = await fileTargetOf(flags);
  if (files) return (await import('../files-commands.js')).installFiles(flags, o, files, out);
  const ops = await import('../../ops/install.js');
  const verdict = await ops.planInstall(o, out, pre);
  if (!verdict.ok) {
    await showRefusal(verdict.report, out);
    throw ops.installRefusal(o, verdict.report);
  }
  if (flags.preset === 'xsoar8') {
    const { checkXsoar8 } = await import('../../ops/targets/files/presets.js');
    const leaf = verdict.plan.material.leaf;
    checkXsoar8([...leaf.dnsNames, ...leaf.ipAddresses], flags.domain, flags.cert);
    out.ok(`covers xsoar., api-xsoar. and ext-xsoar.${flags.domain!.toLowerCase()} (--preset xsoar8)`);
  }
  const { askToProceed } = await import('../prompts.js');
  const prompts: InstallPrompts = {
    fleet: (n, fp) => askFleet(n, fp, flags.yes),
    proceed: (c) => askToProceed(c, out, flags.yes),
  };
  const outcome = await ops.executeInstall(verdict.plan, out, prompts);
  if (outcome.kind === 'one') return showOne(outcome, out);
  await showFleet(outcome.results, verdict.plan.settings.context, out);
  ops.finishFleetInstall(verdict.plan, outcome.results, out);
}

export function installOptions(flags: InstallFlags, cert: string, timeoutS: number): InstallOptions {
  return {
    files: {
      cert,
      key: flags.key,
      chain: flags.chain,
      ca: flags.ca,
      hosts: flags.host,
      passphraseFile: flags.passphraseFile,
      accept: acceptedLints(flags.accept, flags.config ?? defaultConfigFile()),
    },
    where: flags,
    parallel: flags.parallel,
    timeoutS,
    dryRun: flags.dryRun,
    allowNameChange: flags.allowNameChange,
    keepRequest: flags.keepRequest,
    noConfirm: flags.confirm === false,
  };
}

async function askFleet(count: number, fingerprint: string, yes?: boolean): Promise<boolean> {
  if (yes || !process.stdin.isTTY || !process.stderr.isTTY) return true; // cron and scripts never prompt
  const { confirmPrompt } = await import('../prompts.js');
  return confirmPrompt(`Install ${fingerprint.slice(0, 23)}… on ${count} tenants?`);
}

/** Files not fit to serve: every check, on stderr even with --quiet (or the report as JSON). */
async function showRefusal(report: VerifyReport, out: Output): Promise<void> {
  if (out.json) return out.emit({ ok: false, stage: 'verify', report });
  const { printChecks } = await import('../print-checks.js');
  const { Output } = await import('../output.js');
  printChecks(new Output({ quiet: false }), report);
}

function showOne(outcome: InstallOutcome & { kind: 'one' }, out: Output): void {
  const { result, request } = outcome;
  if (out.json) return out.emit({ ok: true, ...result, ...(request ? { request } : {}) });
  if (result.result === 'dry-run') {
    const plan = result.plan as { backupManifest: unknown; secretManifest: unknown };
    out.result('Dry run: nothing was changed. The plan (tls.key redacted):');
    const restart = result.deployments.map((d) => `deployment/${d}`);
    out.result(JSON.stringify({ backup: plan.backupManifest, secret: plan.secretManifest, restart }, null, 2));
    return;
  }
  const confirmed = result.confirmed ? ' and confirmed it is served' : '';
  out.result(
    `Installed ${result.newFingerprint} in ${result.namespace}/${result.secret}${confirmed}; ` +
      `previous version kept as ${result.backup}.`,
  );
}

async function showFleet(
  results: (InstallOutcome & { kind: 'fleet' })['results'],
  context: string | undefined,
  out: Output,
): Promise<void> {
  if (out.json) {
    const tenants = results.map((r) => ({
      context: r.target.context ?? context ?? null,
      namespace: r.target.namespace,
      secret: r.target.secret,
      ok: r.ok,
      exitCode: r.exitCode ?? 0,
      error: r.error,
      result: r.value?.result,
      backup: r.value?.backup,
      confirmed: r.value?.confirmed,
      ms: r.ms,
    }));
    return out.emit({ ok: results.every((r) => r.ok), tenants });
  }
  const { fleetTable } = await import('../../ops/fleet.js');
  out.result(
    fleetTable(
      results,
      (v) => `${v.result}${v.confirmed ? ', confirmed live' : ''}${v.backup ? `, backup ${v.backup}` : ''}`,
    ),
  );
}
