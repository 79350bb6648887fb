// `xsoar-cert inspect`: what is in a file.
import type { Command } from 'commander';
import { helpAfter } from '../help.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('show every certificate (and key) in a file: names, validity, key, fingerprint, usage')
    .argument('<files...>', 'PEM, DER or PKCS#12 files')
    .option('--passphrase-file <file>', 'passphrase for encrypted inputs (or XSOAR_CERT_PASSPHRASE)')
    .option('--json', 'print JSON')
    .addHelpText('after', helpAfter('xsoar-cert inspect fullchain.pem', 'xsoar-cert inspect tenant.p12 --passphrase-file pass.txt --json'))
    .action(async (files: string[], flags: { passphraseFile?: string; json?: boolean }) => {
      const { readBundleWithPassphrase } = await import('../passphrase.js');
      const { describeCert, keyDescription, keyMatchesCert, certLabel } = await import('../../pki/describe.js');
      const { Output, ce } = await import('../output.js');
      const out = new Output({ json: flags.json });
      const results = [];
      for (const file of files) {
        const b = await readBundleWithPassphrase(file, { file: flags.passphraseFile });
        const certs = b.certs.map((c) => describeCert(c));
        const keys = b.keys.map((k) => {
          const match = b.certs.find((c) => keyMatchesCert(k.key, c.cert));
          return { source: k.source, format: k.format, ...keyDescription(k.key), matches: match ? describeCert(match).subject : null };
        });
        results.push({ file, certificates: certs, keys });
        if (flags.json) continue;
        certs.forEach((c, i) => {
          out.result(ce.bold(`${file} #${i + 1}: ${c.subject}`));
          out.result(`  issuer:      ${c.issuer}${c.selfSigned ? ' (self-signed)' : ''}`);
          out.result(`  names:       ${[...c.dnsNames.map((d) => 'DNS:' + d), ...c.ipAddresses.map((d) => 'IP:' + d)].join(', ') || '(no SAN)'}`);
          out.result(`  valid:       ${c.notBefore} → ${c.notAfter} (${c.daysLeft < 0 ? `expired ${-c.daysLeft} days ago` : `${c.daysLeft} days left`})`);
          out.result(`  key:         ${c.keyType}${c.keyBits ? ' ' + c.keyBits : ''}${c.curve ? ' ' + c.curve : ''}   signature: ${c.signatureAlgorithm}`);
          out.result(`  serial:      ${c.serial}`);
          out.result(`  sha256:      ${c.sha256}`);
          out.result(`  usage:       ${[c.isCA ? `CA${c.pathLen !== undefined ? ` pathLen ${c.pathLen}` : ''}` : 'end entity', ...c.keyUsage, ...c.eku].join(', ')}`);
        });
        for (const k of keys) {
          out.result(ce.bold(`${file}: private key`) + ` ${k.keyType}${k.keyBits ? ' ' + k.keyBits : ''} (${k.format})${k.matches ? `, matches ${k.matches}` : ''}`);
        }
        void certLabel;
      }
      out.emit(results.length === 1 ? results[0] : results);
    });
}
