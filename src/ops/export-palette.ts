// `export --palette`: the certificate, its CA and the key for Palette VerteX's system console
// (Administration → Certificates), which takes them as base64-encoded PEM and checks them together
// before it saves: not expired, valid for the CA, valid for the console's address, and the new
// SANs keeping the previous DNS name or IP. The same checks run here first (verify-files.ts, and
// the previous name), so what is pasted is accepted; the files are 0600 from their first byte.
import path from 'node:path';
import { NameChangeError, UsageError } from '../errors.js';
import type { VerifyReport } from '../pki/types.js';
import type { Reporter } from './reporter.js';
import { keyFolder } from './generate.js';
import { verifyFiles } from './verify-files.js';
import { writeNew } from './write-files.js';

export interface PaletteExportOptions {
  outDir: string;
  cert: string;
  key?: string;
  chain?: string[];
  ca?: string;
  /** The console's address (its custom domain, or its or the load balancer's IP). */
  address: string;
  previousAddress?: string;
  allowNameChange?: boolean;
  passphraseFile?: string;
  force?: boolean;
}

export type PaletteExport =
  | { ok: true; files: { file: string; what: string }[]; fingerprint: string; notAfter: string }
  | { ok: false; report: VerifyReport };

/** Check as the console does, then write certificate.b64, ca.b64 and key.b64 (one base64 line each). */
export async function exportPalette(o: PaletteExportOptions, out: Reporter): Promise<PaletteExport> {
  if (!o.key) throw new UsageError('export --palette needs --key FILE (the console takes the key too)');
  if (!o.ca) throw new UsageError('export --palette needs --ca FILE (the console\'s "Certificate authority" field)');
  out.step(`Verify: ${o.cert} for ${o.address}`);
  const { report, material } = await verifyFiles({
    cert: o.cert,
    key: o.key,
    chain: o.chain,
    ca: o.ca,
    hosts: [o.address],
    passphraseFile: o.passphraseFile,
  });
  if (!report.ok || !material) return { ok: false, report };
  out.ok(`not expired, chains to ${o.ca}, valid for ${o.address}`);
  const names = [...material.leaf.dnsNames, ...material.leaf.ipAddresses].map((n) => n.toLowerCase());
  const prev = o.previousAddress?.toLowerCase();
  if (prev && !names.includes(prev)) {
    if (!o.allowNameChange)
      throw new NameChangeError(
        `${o.cert} does not cover the previous address ${o.previousAddress}: Palette requires the new ` +
          'certificate to include the previous DNS name or IP; nothing was written',
        [prev],
        'Get a certificate that includes it, or pass --allow-name-change if the address really changes.',
      );
    out.warn(`the previous address ${o.previousAddress} is not covered (--allow-name-change)`);
  } else if (prev) out.ok(`keeps the previous address ${o.previousAddress}`);
  await keyFolder(o.outDir);
  const b64 = (pem: string) => Buffer.from(pem).toString('base64') + '\n';
  const files = [
    { file: path.join(o.outDir, 'certificate.b64'), what: 'Certificate', data: b64(material.chainPem) },
    { file: path.join(o.outDir, 'ca.b64'), what: 'Certificate authority', data: b64(material.rootPem ?? '') },
    { file: path.join(o.outDir, 'key.b64'), what: 'Key', data: b64(material.keyPem) },
  ];
  for (const f of files) await writeNew(f.file, f.data, { mode: 0o600, force: o.force });
  return {
    ok: true,
    files: files.map(({ file, what }) => ({ file, what })),
    fingerprint: material.leaf.sha256,
    notAfter: material.leaf.notAfter,
  };
}
