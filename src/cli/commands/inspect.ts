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
        helpAfter(
          'xsoar-cert inspect fullchain.pem',
          'xsoar-cert inspect tenant.p12 --passphrase-file pass.txt --json',
          'xsoar-cert inspect tls.crt tls.key',
        ),
    )
    .action(async (files: string[], flags: { passphraseFile?: string; json?: boolean }) => {
      const { readBundleWithPassphrase } = await import('../passphrase.js');
      const { describeCert, keyDescription, keyMatchesCert } = await import('../../pki/describe.js');
      const { Output, ce } = await import('../output.js');
      // File names, subjects and names come from the user's disk and the certificate: shown escaped.
      const { printable: p } = await import('../../printable.js');
      const out = new Output({ json: flags.json });
      const bundles = [];
      const csrs: { file: string; request: Record<string, unknown> }[] = [];
      for (const file of files) {
        try {
          bundles.push({ file, bundle: await readBundleWithPassphrase(file, { file: flags.passphraseFile }) });
        } catch (err) {
          // A certificate signing request is not a certificate, but inspect says what is in it.
          const request = await csrOf(file);
          if (!request) throw err;
          csrs.push({ file, request });
        }
      }
      if (csrs.length) {
        if (flags.json && bundles.length === 0) {
          out.emit(csrs.length === 1 ? csrs[0] : csrs);
          return;
        }
        for (const { file, request: r } of csrs) {
          out.result(ce.bold(`${p(file)}: certificate signing request (PKCS#10)`));
          out.result(`  subject:     ${p(String(r.subject))}`);
          out.result(
            `  names:       ${p([...(r.dnsNames as string[]).map((d) => 'DNS:' + d), ...(r.ipAddresses as string[]).map((d) => 'IP:' + d)].join(', ')) || '(no SAN requested)'}`,
          );
          out.result(
            `  key:         ${String(r.key)}   signature: ${String(r.signatureAlgorithm)} (${r.signatureValid ? 'verifies' : 'DOES NOT VERIFY: the request is damaged'})`,
          );
          out.result(`  public key sha256 ${String(r.publicKeySha256)}`);
          out.result(
            r.pendingRequest
              ? `  its key is kept here as pending request ${String(r.pendingRequest)}: install the signed certificate without --key`
              : '  its key is not a pending request on this host',
          );
        }
      }
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
          out.result(ce.bold(`${p(file)} #${i + 1}: ${p(c.subject)}`));
          out.result(`  issuer:      ${p(c.issuer)}${c.selfSigned ? ' (self-signed)' : ''}`);
          out.result(
            `  names:       ${p([...c.dnsNames.map((d) => 'DNS:' + d), ...c.ipAddresses.map((d) => 'IP:' + d)].join(', ')) || '(no SAN)'}`,
          );
          // daysLeft is floored (−0.1 day → −1); "expired N days ago" counts whole days since notAfter.
          const ago = Math.floor((Date.now() - Date.parse(c.notAfter)) / 86_400_000);
          const left =
            c.daysLeft < 0
              ? ago === 0
                ? 'expired today'
                : `expired ${ago} day${ago === 1 ? '' : 's'} ago`
              : `${c.daysLeft} days left`;
          out.result(`  valid:       ${c.notBefore} → ${c.notAfter} (${left})`);
          out.result(
            `  key:         ${c.keyType}${c.keyBits ? ' ' + c.keyBits : ''}${c.curve ? ' ' + c.curve : ''}   signature: ${c.signatureAlgorithm}`,
          );
          out.result(`  serial:      ${c.serial}`);
          out.result(`  sha256:      ${c.sha256}`);
          const role = c.isCA ? `CA${c.pathLen !== undefined ? ` pathLen ${c.pathLen}` : ''}` : 'end entity';
          out.result(`  usage:       ${[role, ...c.keyUsage, ...c.eku].join(', ')}`);
        });
        for (const k of keys) {
          const size = `${k.keyType}${k.keyBits ? ' ' + k.keyBits : ''}${k.curve ? ' ' + k.curve : ''}`;
          const match = k.matches
            ? `matches ${p(k.matches)}${k.matchesFile !== file ? ` in ${p(String(k.matchesFile))}` : ''}`
            : 'matches none of the certificates given';
          const format = k.encrypted && k.format !== 'pkcs8-encrypted' ? `${k.format}, encrypted` : k.format;
          out.result(ce.bold(`${p(file)}: private key`) + ` ${size} (${format}), ${match}`);
        }
      }
    });
}

/** The request in `file` (PEM or DER PKCS#10), described; undefined when it is not one. */
async function csrOf(file: string): Promise<Record<string, unknown> | undefined> {
  const { readInputFile } = await import('../../pki/input-file.js');
  let data: Buffer;
  try {
    data = await readInputFile(file);
  } catch {
    return undefined;
  }
  // Only what looks like a request is decoded (the decoder is @peculiar/x509, 130 ms to load):
  // a CSR PEM block, or a DER SEQUENCE small enough to be one. Anything else keeps its own error.
  const text = data.toString('latin1', 0, Math.min(data.length, 64 * 1024));
  const begin = text.search(/-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----/);
  let der: Buffer;
  if (begin >= 0) {
    const end = text.indexOf('-----END', begin + 20);
    if (end < 0) return undefined;
    der = Buffer.from(
      text
        .slice(begin, end)
        .replace(/^-----BEGIN[^\n]*\n?/, '')
        .replace(/[^A-Za-z0-9+/=]/g, ''),
      'base64',
    );
  } else if (!text.includes('-----BEGIN') && data[0] === 0x30 && data.length < 64 * 1024) {
    der = data;
  } else {
    return undefined;
  }
  try {
    const { readCsr } = await import('../../pki/generate.js');
    const info = await readCsr(der);
    const { createPublicKey } = await import('node:crypto');
    const { keyDescription } = await import('../../pki/describe.js');
    const { spkiSha256, listRequests } = await import('../../ops/requests.js');
    const k = keyDescription(createPublicKey({ key: info.spki, format: 'der', type: 'spki' }));
    const fp = spkiSha256(info.spki);
    return {
      kind: 'certificate signing request',
      subject: info.subject,
      dnsNames: info.dnsNames,
      ipAddresses: info.ipAddresses,
      key: `${k.keyType}${k.keyBits ? ' ' + k.keyBits : ''}${k.curve ? ' ' + k.curve : ''}`,
      signatureAlgorithm: info.signatureAlgorithm,
      signatureValid: info.signatureValid,
      publicKeySha256: fp,
      pendingRequest: listRequests().find((r) => r.publicKeySha256 === fp)?.id ?? null,
    };
  } catch {
    return undefined;
  }
}
