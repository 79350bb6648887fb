// `xsoar-cert verify`: everything that would make an install fail, checked before anything is touched.
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';

interface VerifyFlags {
  cert: string;
  key?: string;
  chain: string[];
  ca?: string;
  host: string[];
  at?: string;
  passphraseFile?: string;
  tls: boolean;
  accept: string[];
  json?: boolean;
  quiet?: boolean;
}

const ACCEPT_HELP = 'accept a policy lint for known clients, e.g. lint.lifetime (repeatable)';

export function register(program: Command): void {
  program
    .command('verify')
    .description('check a certificate, its chain and key before installing it (exit 0 only when fit to serve)')
    .requiredOption('--cert <file>', 'the certificate (PEM, DER or PKCS#12; may hold the chain too)')
    .option('--key <file>', 'the private key (PKCS#8, PKCS#1 or SEC1; plain or encrypted)')
    .option('--chain <file>', 'intermediate certificates (repeatable, any order)', collect, [])
    .option('--ca <file>', 'the root CA to trust (default: the system trust store)')
    .option('--host <name|ip>', 'a name or IP the certificate must cover (repeatable)', collect, [])
    .option('--at <iso-time>', 'check validity at this time instead of now')
    .option('--passphrase-file <file>', 'read the key passphrase from this file (or set XSOAR_CERT_PASSPHRASE)')
    .option('--no-tls', 'skip the loopback TLS 1.2/1.3 handshakes')
    .option('--accept <lint-id>', ACCEPT_HELP, collect, [])
    .option('--json', 'print one JSON object with every check')
    .option('-q, --quiet', 'print only failures')
    .addHelpText(
      'after',
      helpAfter(
        'xsoar-cert verify --cert tenant.pem --key tenant-key.pem --chain intermediate.pem --ca root.pem ' +
          '--host xsoar.example.com',
        'xsoar-cert verify --cert bundle.p12 --passphrase-file pass.txt --host 10.0.0.5 --json',
        '# Will it still be valid next month?',
        'xsoar-cert verify --cert tenant.pem --ca root.pem --at 2027-01-01T00:00:00Z',
      ),
    )
    .action(async (flags: VerifyFlags) => {
      const { CheckFailedError } = await import('../../errors.js');
      const at = await parseAt(flags.at);
      const { verifyFiles } = await import('../../ops/verify-files.js');
      const { acceptedLints, defaultConfigFile } = await import('../../ops/settings.js');
      const { Output } = await import('../output.js');
      const out = new Output({ json: flags.json, quiet: flags.quiet });
      const { report } = await verifyFiles({
        cert: flags.cert,
        key: flags.key,
        chain: flags.chain,
        ca: flags.ca,
        hosts: flags.host,
        at,
        passphraseFile: flags.passphraseFile,
        tls: flags.tls,
        accept: acceptedLints(flags.accept, defaultConfigFile()),
      });
      if (flags.json) out.emit(report);
      else {
        const { printChecks } = await import('../print-checks.js');
        printChecks(out, report);
      }
      if (!report.ok) {
        throw new CheckFailedError(
          `${flags.cert}: not fit to serve: ${report.failures} check(s) failed`,
          'Fix the problems above and run verify again; nothing was changed.',
        );
      }
    });
}

async function parseAt(text: string | undefined): Promise<Date | undefined> {
  if (text === undefined) return undefined;
  const at = new Date(text);
  if (!Number.isNaN(at.getTime())) return at;
  const { UsageError } = await import('../../errors.js');
  throw new UsageError(`--at "${text}" is not a date: use ISO 8601, e.g. 2027-01-01T00:00:00Z`);
}
