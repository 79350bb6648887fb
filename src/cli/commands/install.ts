// `xsoar-cert install`: replace the tenant's certificate as a transaction.
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';
import { addConfirmFlag, addFleetFlags, addTargetFlags, SETTINGS_HELP, type TargetFlags } from '../target-flags.js';

export interface InstallFlags extends TargetFlags {
  cert?: string;
  key?: string;
  chain: string[];
  ca?: string;
  host: string[];
  passphraseFile?: string;
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
      'verify, back up, replace the TLS secret, restart the proxy, confirm the live certificate; roll back on any failure',
    )
    .option('--cert <file>', 'the certificate (PEM, DER or PKCS#12)')
    .option(
      '--key <file>',
      'its private key (default: the key of the pending request the certificate completes, see csr)',
    )
    .option('--chain <file>', 'intermediate certificates (repeatable)', collect, [])
    .option('--ca <file>', 'the root CA (stored as ca.crt; default: the system trust store)')
    .option('--host <name|ip>', 'a name or IP the certificate must cover (repeatable)', collect, [])
    .option('--passphrase-file <file>', 'the key passphrase (or XSOAR_CERT_PASSPHRASE)');
  addConfirmFlag(addFleetFlags(addTargetFlags(cmd)))
    .option('--timeout <seconds>', 'how long to wait for the rollout', '120')
    .option('--allow-name-change', 'allow a certificate that drops names the installed one covers')
    .option('--keep-request', "keep the pending request's key after the certificate completing it is installed")
    .option('--dry-run', 'check everything and show the plan (key redacted); change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print only the result')
    .option('-i, --interactive', 'ask for the files, names and target step by step (a terminal is needed)')
    .addHelpText(
      'after',
      SETTINGS_HELP +
        helpAfter(
          'xsoar-cert install --cert tenant.pem --key tenant-key.pem --chain intermediate.pem --ca root.pem --host xsoar.example.com --endpoint xsoar.example.com:443',
          'xsoar-cert install --cert tenant.p12 --passphrase-file pass.txt -n tenant-7 --dry-run',
          'xsoar-cert install --interactive     # a wizard: files, checks, target, plan, confirm',
          '# several tenants, 8 at a time (tenants file: "namespace[/secret] [host:port]" per line):',
          'xsoar-cert install --cert t.pem --key t-key.pem --tenants-file tenants.txt --parallel 8 --yes',
          'xsoar-cert install --cert t.pem --key t-key.pem --all-namespaces --selector app.kubernetes.io/part-of=xsoar --yes',
        ),
    )
    .action(async (flags: InstallFlags) => {
      const { runInstall } = await import('./install-run.js');
      await runInstall(flags);
    });
}
