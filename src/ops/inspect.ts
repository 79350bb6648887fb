// `inspect` as an operation: what is in each file, described (certificates, keys and which
// certificate each key belongs to, certificate signing requests); private keys are never returned.
import { readBundleWithPassphrase } from './inputs.js';
import { describeCert, keyDescription, keyMatchesCert } from '../pki/describe.js';
import type { Bundle } from '../pki/types.js';

export interface FileContents {
  file: string;
  certificates: ReturnType<typeof describeCert>[];
  keys: Array<
    {
      source: string;
      format: string;
      encrypted: boolean;
      matches: string | null;
      matchesFile: string | null;
    } & ReturnType<typeof keyDescription>
  >;
}

export interface Inspected {
  files: FileContents[];
  /** Files that hold a certificate signing request instead. */
  csrs: { file: string; request: Record<string, unknown> }[];
}

export async function inspectFiles(files: string[], passphraseFile?: string): Promise<Inspected> {
  const bundles: { file: string; bundle: Bundle }[] = [];
  const csrs: Inspected['csrs'] = [];
  for (const file of files) {
    try {
      bundles.push({ file, bundle: await readBundleWithPassphrase(file, { file: passphraseFile }) });
    } catch (err) {
      // A certificate signing request is not a certificate, but inspect says what is in it.
      const request = await csrOf(file);
      if (!request) throw err;
      csrs.push({ file, request });
    }
  }
  // A key is matched against the certificates of every file given (`inspect tls.crt tls.key`).
  const allCerts = bundles.flatMap((b) => b.bundle.certs);
  const described = bundles.map(({ file, bundle }) => ({
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
  return { files: described, csrs };
}

/** The request in `file` (PEM or DER PKCS#10), described; undefined when it is not one. */
async function csrOf(file: string): Promise<Record<string, unknown> | undefined> {
  const { readInputFile } = await import('../pki/input-file.js');
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
    const { readCsr } = await import('../pki/generate.js');
    const info = await readCsr(der);
    const { createPublicKey } = await import('node:crypto');
    const { keyDescription } = await import('../pki/describe.js');
    const { spkiSha256, listRequests } = await import('./requests.js');
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
