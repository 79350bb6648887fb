// `xsoar-cert csr`: a certificate request whose key is born on this host and never travels.
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';
import { addFleetFlags, addTargetFlags, SETTINGS_HELP, type TargetFlags } from '../target-flags.js';

export interface CsrFlags extends TargetFlags {
  host: string[];
  subject?: string;
  keyType?: string;
  bits?: string;
  curve?: string;
  out?: string;
  keyOut?: string;
  force?: boolean;
  fromInstalled?: boolean;
  list?: boolean;
  discard?: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('csr')
    .description(
      'make a key and a certificate signing request (PKCS#10) for your PKI team or CA; the key stays here as a pending request',
    )
    .option(
      '--host <name|ip>',
      'a DNS name or IP the certificate must cover (repeatable; the first is the CN)',
      collect,
      [],
    )
    .option('--subject <dn>', 'more of the subject, e.g. "O=Example Corp,OU=SecOps,L=Berlin,C=DE"')
    .option('--key-type <type>', 'rsa or ecdsa (default rsa; with --from-installed: the installed key type)')
    .option('--bits <n>', 'RSA key size: 2048, 3072 or 4096 (default 3072)')
    .option('--curve <name>', 'ECDSA curve: P-256 or P-384 (default P-256)')
    .option('--out <file>', 'where to write the CSR (default: <first host>.csr in the current folder)')
    .option('--key-out <file>', 'write the key to this file (0600) instead of keeping it as a pending request')
    .option('--force', 'overwrite --out / --key-out if they exist')
    .option(
      '--from-installed',
      'take the names and the key type and size from the certificate installed in the tenant secret',
    );
  addFleetFlags(addTargetFlags(cmd))
    .option('--list', 'list the pending requests')
    .option('--discard <id>', 'delete a pending request and its key')
    .option('--json', 'print the result as JSON (never the key)')
    .option('-q, --quiet', 'print only the CSR')
    .addHelpText(
      'after',
      '\nThe key is kept in the state dir as a pending request (folder 0700, file 0600), never printed.\n' +
        'When the signed certificate comes back, install it without --key: the pending key whose public\n' +
        'key matches is used, and removed once the install succeeded (--keep-request keeps it).\n' +
        SETTINGS_HELP +
        helpAfter(
          'xsoar-cert csr --host xsoar.example.com --host 10.0.0.5 --subject "O=Example Corp,C=DE"',
          'xsoar-cert csr --from-installed -n xsoar          # a renewal request with the installed names',
          '# send xsoar.example.com.csr to your PKI team / ADCS web enrollment, then:',
          'xsoar-cert install --cert signed.crt --chain issuing-ca.pem --ca root.pem -n xsoar',
          'xsoar-cert csr --list',
        ),
    )
    .action(async (flags: CsrFlags) => {
      const { runCsr } = await import('./csr-run.js');
      await runCsr(flags);
    });
}
