// `xsoar-cert inspect`: what is in a file.
import type { Command } from 'commander';
import { helpAfter } from '../help.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('show every certificate (and key) in a file: names, validity, key, fingerprint, usage')
    .argument('<files...>', 'PEM, DER or PKCS#12 files')
    .option('--passphrase-file <file>', 'passphrase for encrypted inputs (or XSOAR_CERT_PASSPHRASE)')
    .option('--json', 'print JSON (one object for one file, an array for several)')
    .addHelpText(
      'after',
      '\nPrivate keys are described (type, size, which certificate they belong to), never printed.\n' +
        helpAfter('xsoar-cert inspect fullchain.pem', 'xsoar-cert inspect tenant.p12 --passphrase-file pass.txt --json', 'xsoar-cert inspect tls.crt tls.key'),
    )
    .action(async (files: string[], flags: { passphraseFile?: string; json?: boolean }) => {
      const { readBundleWithPassphrase } = await import('../passphrase.js');
      const { describeCert, keyDescription, keyMatchesCert } = await import('../../pki/describe.js');
      const { Output, ce } = await import('../output.js');
      const out = new Output({ json: flags.json });
      const bundles = [];
      for (const file of files) bundles.push({ file, bundle: await readBundleWithPassphrase(file, { file: flags.passphraseFile }) });
      // A key is matched against the certificates of every file given (`inspect tls.crt tls.key`).
      const allCerts = bundles.flatMap((b) => b.bundle.certs);
      const results = bundles.map(({ file, bundle }) => ({
        file,
        certificates: bundle.certs.map((c) => describeCert(c)),
        keys: bundle.keys.map((k) => {
          const match = allCerts.find((c) => keyMatchesCert(k.key, c.cert));
          return {
            source: k.source,
            format: k.format,
            // Legacy "Proc-Type: 4,ENCRYPTED" PEM keys keep their pkcs1/sec1 format name: say it.
            encrypted: k.encrypted === true || k.format === 'pkcs8-encrypted',
            ...keyDescription(k.key),
            matches: match ? describeCert(match).subject : null,
            matchesFile: match ? match.source : null,
          };
        }),
      }));
      if (flags.json) {
        out.emit(results.length === 1 ? results[0] : results);
        return;
      }
      for (const { file, certificates, keys } of results) {
        certificates.forEach((c, i) => {
          out.result(ce.bold(`${file} #${i + 1}: ${c.subject}`));
          out.result(`  issuer:      ${c.issuer}${c.selfSigned ? ' (self-signed)' : ''}`);
          out.result(`  names:       ${[...c.dnsNames.map((d) => 'DNS:' + d), ...c.ipAddresses.map((d) => 'IP:' + d)].join(', ') || '(no SAN)'}`);
          // daysLeft is floored (−0.1 day → −1); "expired N days ago" counts whole days since notAfter.
          const ago = Math.floor((Date.now() - Date.parse(c.notAfter)) / 86_400_000);
          const left = c.daysLeft < 0 ? (ago === 0 ? 'expired today' : `expired ${ago} day${ago === 1 ? '' : 's'} ago`) : `${c.daysLeft} days left`;
          out.result(`  valid:       ${c.notBefore} → ${c.notAfter} (${left})`);
          out.result(`  key:         ${c.keyType}${c.keyBits ? ' ' + c.keyBits : ''}${c.curve ? ' ' + c.curve : ''}   signature: ${c.signatureAlgorithm}`);
          out.result(`  serial:      ${c.serial}`);
          out.result(`  sha256:      ${c.sha256}`);
          const role = c.isCA ? `CA${c.pathLen !== undefined ? ` pathLen ${c.pathLen}` : ''}` : 'end entity';
          out.result(`  usage:       ${[role, ...c.keyUsage, ...c.eku].join(', ')}`);
        });
        for (const k of keys) {
          const size = `${k.keyType}${k.keyBits ? ' ' + k.keyBits : ''}${k.curve ? ' ' + k.curve : ''}`;
          const match = k.matches ? `matches ${k.matches}${k.matchesFile !== file ? ` in ${k.matchesFile}` : ''}` : 'matches none of the certificates given';
          const format = k.encrypted && k.format !== 'pkcs8-encrypted' ? `${k.format}, encrypted` : k.format;
          out.result(ce.bold(`${file}: private key`) + ` ${size} (${format}), ${match}`);
        }
      }
    });
}
