// `xsoar-cert chain`: any mix of files in, the served chain out (leaf → intermediates → root).
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import type { ChainFlags } from './chain-run.js'; // type only: erased, so chain-run loads lazily

export function register(program: Command): void {
  program
    .command('chain')
    .description('order certificates from any files into the full chain: leaf → intermediate(s) → root')
    .argument('<files...>', 'certificate files in any order (PEM bundles, DER, PKCS#12)')
    .option('--key <file>', 'the private key: its certificate is the leaf')
    .option('--out <file>', 'write the chain here (default: standard output); never written when a link is missing')
    .option('--ca <file>', 'the trusted root(s): a path ending there is preferred (default: the system trust store)')
    .option('--with-root', 'end the chain with the root, from the files or the system trust store (default)')
    .option('--no-root', 'leave the root out (what a server sends)')
    .option('--force', 'overwrite --out if it exists')
    .option('--passphrase-file <file>', 'passphrase for encrypted inputs (or XSOAR_CERT_PASSPHRASE)')
    .option('--json', 'print the ordered chain and what was dropped as JSON')
    .option('-q, --quiet', 'no commentary on standard error')
    .addHelpText(
      'after',
      '\nThe leaf is the certificate matching --key (or a key in the inputs), else the one that issues\n' +
        'none of the others; of several, the newest valid one (and it says so). Issuers are found by\n' +
        'signature, not by name. Of several paths (cross-signs), the one whose every certificate is\n' +
        'valid and that ends at a trusted root wins. Every certificate left out is named with the\n' +
        'reason on standard error (duplicate, expired cross-sign, unrelated). A missing issuer exits 1 and names\n' +
        'its subject and authority key identifier.\n' +
        helpAfter(
          'xsoar-cert chain root.pem leaf.pem intermediate.pem > fullchain.pem',
          'xsoar-cert chain --key tenant-key.pem ca-bundle.pem tenant.pem --no-root --out tls.crt',
          'xsoar-cert chain tenant.p12 --passphrase-file pass.txt --json',
        ),
    )
    .action(async (files: string[], flags: ChainFlags) => {
      const { runChain } = await import('./chain-run.js');
      await runChain(files, flags);
    });
}
