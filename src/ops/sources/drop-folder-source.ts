// renew --from DIR: the newest valid newer certificate in a drop folder (with its key and
// intermediates, or the key of a pending request), the folder scanned once per run.
import { InputError } from '../../errors.js';
import type { Bundle } from '../../pki/types.js';
import type { Reporter } from '../reporter.js';
import { pickCandidate } from '../renew-policy.js';
import type { FolderScan } from './drop-folder.js';
import type { CertificateSource, Installed, Obtained } from './types.js';

export interface DropFolderSettings {
  from: string;
  /** Extra intermediate files (--chain), for a folder that lacks them. */
  chain?: string[];
  ca?: string;
  /** Names the renewed certificate must cover (--host). */
  hosts?: string[];
  passphraseFile?: string;
}

export function dropFolderSource(s: DropFolderSettings): CertificateSource {
  let scan: Promise<FolderScan> | undefined;
  return {
    costly: false,
    describe: () => `drop folder ${s.from}`,
    obtain: async (installed, out) => pick(installed, await (scan ??= scanFolder(s)), s, out),
  };
}

async function scanFolder(s: DropFolderSettings): Promise<FolderScan> {
  const { readBundleWithPassphrase } = await import('../inputs.js');
  const read = (f: string) => readBundleWithPassphrase(f, { file: s.passphraseFile, prompt: false });
  const chain: Bundle[] = await Promise.all((s.chain ?? []).map(read));
  const ca = s.ca ? await read(s.ca) : undefined;
  if (s.ca && ca && ca.certs.length === 0)
    throw new InputError(`${s.ca}: holds no certificate: pass the root CA certificate with --ca`, { file: s.ca });
  const { scanDropFolder } = await import('./drop-folder.js');
  return scanDropFolder(s.from, { chain, ca, caSource: s.ca, hosts: s.hosts, passphraseFile: s.passphraseFile });
}

/** The candidate the renewal policy picks; every file looked at is named with what became of it. */
async function pick(installed: Installed, scan: FolderScan, s: DropFolderSettings, out: Reporter): Promise<Obtained> {
  const { describeUse, fileLine } = await import('./drop-folder.js');
  const leaf = installed.leaf;
  const life = { notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo), sha256: leaf.fingerprint256 };
  const chosenPick = pickCandidate(life, scan.candidates);
  const chosen = chosenPick.ok ? scan.candidates.find((c) => c.source === chosenPick.candidate.source) : undefined;
  const files = describeUse(scan, chosen, new Map(chosenPick.skipped.map((x) => [x.source, x.why])));
  for (const f of files) {
    if (f.used) out.info(fileLine(f));
    else out.warn(fileLine(f));
  }
  if (!chosenPick.ok || !chosen) {
    const why = chosenPick.ok ? 'no usable certificate' : chosenPick.why;
    const hint =
      'Drop the renewed certificate, its key and its intermediates in that folder (they must pass xsoar-cert verify).';
    throw Object.assign(new InputError(`${s.from}: ${why} for ${installed.where}`, { file: s.from, hint }), {
      details: { files },
    });
  }
  if (chosen.requestId !== undefined)
    out.info(`${chosen.certFile}: completes pending request ${chosen.requestId} (its key is used)`);
  return { content: chosen.content!, from: chosen.certFile, files, requestId: chosen.requestId };
}
