// `xsoar-cert inspect`: what is in a file (read by ops/inspect.ts, shown here).
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import type { ChalkInstance } from 'chalk';
import type { Output } from '../output.js';
import type { FileContents } from '../../ops/inspect.js';

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
        helpAfter(
          'xsoar-cert inspect fullchain.pem',
          'xsoar-cert inspect tenant.p12 --passphrase-file pass.txt --json',
          'xsoar-cert inspect tls.crt tls.key',
        ),
    )
    .action(async (files: string[], flags: { passphraseFile?: string; json?: boolean }) => runInspect(files, flags));
}

async function runInspect(files: string[], flags: { passphraseFile?: string; json?: boolean }): Promise<void> {
  const { Output } = await import('../output.js');
  const { inspectFiles } = await import('../../ops/inspect.js');
  const out = new Output({ json: flags.json });
  const { files: described, csrs } = await inspectFiles(files, flags.passphraseFile);
  const { ce } = await import('../output.js');
  // File names, subjects and names come from the user's disk and the certificate: shown escaped.
  const { printable: p } = await import('../../printable.js');
  const fmt: Fmt = { ce, p };
  if (csrs.length) {
    if (flags.json && described.length === 0) return out.emit(csrs.length === 1 ? csrs[0] : csrs);
    for (const { file, request } of csrs) printCsr(file, request, out, fmt);
  }
  if (flags.json) return out.emit(described.length === 1 ? described[0] : described);
  for (const { file, certificates, keys } of described) {
    certificates.forEach((c, i) => printCert(`${p(file)} #${i + 1}`, c, out, fmt));
    for (const k of keys) {
      const size = `${k.keyType}${k.keyBits ? ' ' + k.keyBits : ''}${k.curve ? ' ' + k.curve : ''}`;
      const match = k.matches
        ? `matches ${p(k.matches)}${k.matchesFile !== file ? ` in ${p(String(k.matchesFile))}` : ''}`
        : 'matches none of the certificates given';
      const format = k.encrypted && k.format !== 'pkcs8-encrypted' ? `${k.format}, encrypted` : k.format;
      out.result(ce.bold(`${p(file)}: private key`) + ` ${size} (${format}), ${match}`);
    }
  }
}

/** Bold headings, and escaping for text that comes from files and certificates. */
interface Fmt {
  ce: ChalkInstance;
  p: (s: string) => string;
}

function printCsr(file: string, r: Record<string, unknown>, out: Output, { ce, p }: Fmt): void {
  const names = [
    ...(r.dnsNames as string[]).map((d) => 'DNS:' + d),
    ...(r.ipAddresses as string[]).map((d) => 'IP:' + d),
  ];
  const signature = r.signatureValid ? 'verifies' : 'DOES NOT VERIFY: the request is damaged';
  out.result(ce.bold(`${p(file)}: certificate signing request (PKCS#10)`));
  out.result(`  subject:     ${p(String(r.subject))}`);
  out.result(`  names:       ${p(names.join(', ')) || '(no SAN requested)'}`);
  out.result(`  key:         ${String(r.key)}   signature: ${String(r.signatureAlgorithm)} (${signature})`);
  out.result(`  public key sha256 ${String(r.publicKeySha256)}`);
  out.result(
    r.pendingRequest
      ? `  its key is kept here as pending request ${String(r.pendingRequest)}: ` +
          'install the signed certificate without --key'
      : '  its key is not a pending request on this host',
  );
}

function printCert(title: string, c: FileContents['certificates'][number], out: Output, { ce, p }: Fmt): void {
  out.result(ce.bold(`${title}: ${p(c.subject)}`));
  out.result(`  issuer:      ${p(c.issuer)}${c.selfSigned ? ' (self-signed)' : ''}`);
  const names = [...c.dnsNames.map((d) => 'DNS:' + d), ...c.ipAddresses.map((d) => 'IP:' + d)];
  out.result(`  names:       ${p(names.join(', ')) || '(no SAN)'}`);
  // daysLeft is floored (−0.1 day → −1); "expired N days ago" counts whole days since notAfter.
  const ago = Math.floor((Date.now() - Date.parse(c.notAfter)) / 86_400_000);
  const left =
    c.daysLeft < 0
      ? ago === 0
        ? 'expired today'
        : `expired ${ago} day${ago === 1 ? '' : 's'} ago`
      : `${c.daysLeft} days left`;
  out.result(`  valid:       ${c.notBefore} → ${c.notAfter} (${left})`);
  const key = `${c.keyType}${c.keyBits ? ' ' + c.keyBits : ''}${c.curve ? ' ' + c.curve : ''}`;
  out.result(`  key:         ${key}   signature: ${c.signatureAlgorithm}`);
  out.result(`  serial:      ${c.serial}`);
  out.result(`  sha256:      ${c.sha256}`);
  const role = c.isCA ? `CA${c.pathLen !== undefined ? ` pathLen ${c.pathLen}` : ''}` : 'end entity';
  out.result(`  usage:       ${[role, ...c.keyUsage, ...c.eku].join(', ')}`);
}
