// The work behind `chain`, loaded only when the command runs.
import { readBundleWithPassphrase } from '../passphrase.js';
import { mergeBundles } from '../../pki/parse.js';
import { buildChain, ChainError, toPem, type BuildChainOptions, type ChainResult } from '../../pki/chain.js';
import { certLabel, describeCert } from '../../pki/describe.js';
import { CheckFailedError, InputError } from '../../errors.js';
import { Output } from '../output.js';
import { writeNew } from '../write-files.js';

export interface ChainFlags {
  key?: string;
  ca?: string;
  out?: string;
  root: boolean;
  force?: boolean;
  passphraseFile?: string;
  json?: boolean;
  quiet?: boolean;
}

export async function runChain(files: string[], flags: ChainFlags): Promise<void> {
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const src = { file: flags.passphraseFile };
  const bundle = mergeBundles(await Promise.all(files.map((f) => readBundleWithPassphrase(f, src))));
  // A key inside the inputs (a PKCS#12, a combined PEM) picks the leaf as --key would.
  let key = bundle.keys[0];
  if (flags.key) {
    const kb = await readBundleWithPassphrase(flags.key, src);
    key = kb.keys[0];
    if (!key)
      throw new InputError(`${flags.key}: holds no private key`, {
        file: flags.key,
        hint: 'Pass the private key file (PEM, DER or PKCS#12) with --key.',
      });
  }
  if (bundle.certs.length === 0)
    throw new InputError(`${files.join(', ')}: no certificate found (only keys)`, {
      file: files[0],
      hint: 'Pass the certificate files too.',
    });
  if (!key) {
    // A certificate issued for a pending request (xsoar-cert csr): its key picks the leaf.
    const { pendingKeyFor, completionNotes } = await import('../../ops/requests.js');
    for (const c of bundle.certs) {
      const hit = pendingKeyFor(c.cert);
      if (!hit) continue;
      key = hit.key;
      const notes = completionNotes(hit.request, c.cert);
      out.info(`${c.source}: ${notes.using}`);
      for (const w of notes.warnings) out.warn(`${c.source}: ${w}`);
      break;
    }
  }
  // Trusted roots decide between paths (a valid root over an expired cross-sign) and finish a chain
  // whose root was not given: --ca, else the system store (where a public CA's root is).
  let anchors;
  if (flags.ca) {
    anchors = (await readBundleWithPassphrase(flags.ca, src)).certs;
    if (anchors.length === 0)
      throw new InputError(`${flags.ca}: holds no certificate: pass the root CA certificate with --ca`, {
        file: flags.ca,
      });
  } else {
    anchors = (await import('../../pki/trust-store.js')).systemAnchors();
  }
  const opts: BuildChainOptions = { key, withRoot: flags.root, anchors };
  let result: ChainResult;
  try {
    result = buildChain(bundle, opts);
  } catch (err) {
    if (err instanceof ChainError)
      throw new CheckFailedError(err.message, 'Pass the certificate issued for this key, or the matching --key.');
    throw err;
  }
  if (result.leafNote) out.warn(result.leafNote);
  for (const d of result.dropped) out.warn(`dropped ${d.entry.source}: ${certLabel(d.entry.cert)}: ${d.why}`);
  const pem = toPem(result.chain);
  const missing = result.missingIssuer;
  if (flags.json) {
    out.emit({
      ok: !missing,
      leafBy: result.leafBy,
      chain: result.chain.map((c) => describeCert(c)),
      root: result.root ? { ...describeCert(result.root), source: result.root.source } : null,
      leafNote: result.leafNote ?? null,
      dropped: result.dropped.map((d) => ({
        source: d.entry.source,
        subject: describeCert(d.entry).subject,
        serial: d.entry.cert.serialNumber.toUpperCase(),
        reason: d.reason,
        why: d.why,
      })),
      missingIssuer: missing ?? null,
      pem,
    });
  }
  if (flags.out && !missing) {
    await writeNew(flags.out, pem, { mode: 0o644, force: flags.force });
    out.info(`wrote ${result.chain.length} certificate(s) to ${flags.out}`);
  } else if (!flags.out && !flags.json) {
    process.stdout.write(pem);
  }
  out.info(
    result.chain
      .map(
        (c, i) =>
          `${i === 0 ? 'leaf' : c === result.root ? 'root' : 'intermediate'}: ${certLabel(c.cert)}${c === result.root && result.rootFromAnchors ? ` (from ${c.source})` : ''}`,
      )
      .join('\n'),
  );
  if (result.root && result.rootFromAnchors && !flags.root)
    out.info(`ends at ${certLabel(result.root.cert)} in ${result.root.source} (left out: --no-root)`);
  if (missing) {
    // An incomplete chain is never written to --out: a later install would serve it.
    throw new CheckFailedError(
      `the chain is incomplete: the issuer "${missing.subject}"${missing.aki ? ` (AKI ${missing.aki})` : ''} is missing${flags.out ? `; nothing was written to ${flags.out}` : ''}`,
      'Add the file with that intermediate (your CA publishes it), then run chain again.',
    );
  }
}
