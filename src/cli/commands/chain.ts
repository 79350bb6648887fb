// `xsoar-cert chain`: any mix of files in, the served chain out (leaf → intermediates → root).
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import type { Output } from '../output.js';
import type { ChainResult } from '../../pki/chain.js';
import type { Bundle, KeyEntry } from '../../pki/types.js';

interface ChainFlags {
  key?: string;
  ca?: string;
  out?: string;
  root: boolean;
  force?: boolean;
  passphraseFile?: string;
  json?: boolean;
  quiet?: boolean;
}

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
    .action(async (files: string[], flags: ChainFlags) => runChain(files, flags));
}

async function runChain(files: string[], flags: ChainFlags): Promise<void> {
  const { Output } = await import('../output.js');
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const { bundle, key } = await readInputs(files, flags, out);
  const { buildChain, ChainError } = await import('../../pki/chain.js');
  const { CheckFailedError } = await import('../../errors.js');
  const anchors = await trustAnchors(flags);
  let result: ChainResult;
  try {
    result = buildChain(bundle, { key, withRoot: flags.root, anchors });
  } catch (err) {
    if (err instanceof ChainError)
      throw new CheckFailedError(err.message, 'Pass the certificate issued for this key, or the matching --key.');
    throw err;
  }
  await showChain(result, flags, out);
  const missing = result.missingIssuer;
  if (missing) {
    // An incomplete chain is never written to --out: a later install would serve it.
    throw new CheckFailedError(
      `the chain is incomplete: the issuer "${missing.subject}"${missing.aki ? ` (AKI ${missing.aki})` : ''} ` +
        `is missing${flags.out ? `; nothing was written to ${flags.out}` : ''}`,
      'Add the file with that intermediate (your CA publishes it), then run chain again.',
    );
  }
}

/** Every certificate of the files, and the key that picks the leaf: --key, one in the inputs, or a pending one. */
async function readInputs(
  files: string[],
  flags: ChainFlags,
  out: Output,
): Promise<{ bundle: Bundle; key: KeyEntry | undefined }> {
  const { readBundleWithPassphrase } = await import('../../ops/inputs.js');
  const { mergeBundles } = await import('../../pki/parse.js');
  const { InputError } = await import('../../errors.js');
  const src = { file: flags.passphraseFile };
  const bundle = mergeBundles(await Promise.all(files.map((f) => readBundleWithPassphrase(f, src))));
  // A key inside the inputs (a PKCS#12, a combined PEM) picks the leaf as --key would.
  let key = bundle.keys[0];
  if (flags.key) {
    key = (await readBundleWithPassphrase(flags.key, src)).keys[0];
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
  return { bundle, key: key ?? (await pendingKey(bundle, out)) };
}

/** A certificate issued for a pending request (xsoar-cert csr): its key picks the leaf. */
async function pendingKey(bundle: Bundle, out: Output): Promise<KeyEntry | undefined> {
  const { pendingKeyFor, completionNotes } = await import('../../ops/requests.js');
  for (const c of bundle.certs) {
    const hit = pendingKeyFor(c.cert);
    if (!hit) continue;
    const notes = completionNotes(hit.request, c.cert);
    out.info(`${c.source}: ${notes.using}`);
    for (const w of notes.warnings) out.warn(`${c.source}: ${w}`);
    return hit.key;
  }
  return undefined;
}

/**
 * Trusted roots decide between paths (a valid root over an expired cross-sign) and finish a chain
 * whose root was not given: --ca, else the system store (where a public CA's root is).
 */
async function trustAnchors(flags: ChainFlags): Promise<Bundle['certs']> {
  if (!flags.ca) return (await import('../../pki/trust-store.js')).systemAnchors();
  const { readBundleWithPassphrase } = await import('../../ops/inputs.js');
  const anchors = (await readBundleWithPassphrase(flags.ca, { file: flags.passphraseFile })).certs;
  if (anchors.length === 0) {
    const { InputError } = await import('../../errors.js');
    throw new InputError(`${flags.ca}: holds no certificate: pass the root CA certificate with --ca`, {
      file: flags.ca,
    });
  }
  return anchors;
}

/** What was dropped (stderr), the chain (stdout, --out or JSON), and each link named (stderr). */
async function showChain(result: ChainResult, flags: ChainFlags, out: Output): Promise<void> {
  const { toPem } = await import('../../pki/chain.js');
  const { certLabel, describeCert } = await import('../../pki/describe.js');
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
    const { writeNew } = await import('../../ops/write-files.js');
    await writeNew(flags.out, pem, { mode: 0o644, force: flags.force });
    out.info(`wrote ${result.chain.length} certificate(s) to ${flags.out}`);
  } else if (!flags.out && !flags.json) {
    process.stdout.write(pem);
  }
  const role = (c: ChainResult['chain'][number], i: number) =>
    i === 0 ? 'leaf' : c === result.root ? 'root' : 'intermediate';
  const from = (c: ChainResult['chain'][number]) =>
    c === result.root && result.rootFromAnchors ? ` (from ${c.source})` : '';
  out.info(result.chain.map((c, i) => `${role(c, i)}: ${certLabel(c.cert)}${from(c)}`).join('\n'));
  if (result.root && result.rootFromAnchors && !flags.root)
    out.info(`ends at ${certLabel(result.root.cert)} in ${result.root.source} (left out: --no-root)`);
}
