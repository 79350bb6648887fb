import { readBundleWithPassphrase } from '../passphrase.js';
import { mergeBundles } from '../../pki/parse.js';
import { buildChain, ChainError, toPem } from '../../pki/chain.js';
import { certLabel, describeCert } from '../../pki/describe.js';
import { CheckFailedError, InputError } from '../../errors.js';
import { Output } from '../output.js';
import { writeNew } from '../write-files.js';

export async function runChain(files: string[], flags: { key?: string; out?: string; root: boolean; force?: boolean; passphraseFile?: string; json?: boolean; quiet?: boolean }): Promise<void> {
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const src = { file: flags.passphraseFile };
  const bundle = mergeBundles(await Promise.all(files.map((f) => readBundleWithPassphrase(f, src))));
  let key = bundle.keys[0];
  if (flags.key) {
    const kb = await readBundleWithPassphrase(flags.key, src);
    key = kb.keys[0];
    if (!key) throw new InputError(`${flags.key}: holds no private key`, { file: flags.key });
  }
  if (bundle.certs.length === 0) throw new InputError(`${files.join(', ')}: no certificate found`, { file: files[0] });
  let result;
  try {
    result = buildChain(bundle, { key, withRoot: flags.root });
  } catch (err) {
    if (err instanceof ChainError) throw new CheckFailedError(err.message, 'Pass the certificate issued for this key, or the matching --key.');
    throw err;
  }
  for (const d of result.dropped) {
    out.warn(`dropped ${d.entry.source}: ${certLabel(d.entry.cert)}: ${d.reason === 'duplicate' ? 'a duplicate' : 'not part of this chain'}`);
  }
  const pem = toPem(result.chain);
  if (flags.json) {
    out.emit({
      ok: !result.missingIssuer,
      leafBy: result.leafBy,
      chain: result.chain.map((c) => describeCert(c)),
      root: result.root ? describeCert(result.root) : null,
      dropped: result.dropped.map((d) => ({ source: d.entry.source, subject: describeCert(d.entry).subject, reason: d.reason })),
      missingIssuer: result.missingIssuer ?? null,
      pem,
    });
  }
  if (flags.out) {
    await writeNew(flags.out, pem, { mode: 0o644, force: flags.force });
    out.info(`wrote ${result.chain.length} certificate(s) to ${flags.out}`);
  } else if (!flags.json) {
    process.stdout.write(pem);
  }
  out.info(result.chain.map((c, i) => `${i === 0 ? 'leaf' : c === result.root ? 'root' : 'intermediate'}: ${certLabel(c.cert)}`).join('\n'));
  if (result.missingIssuer) {
    const m = result.missingIssuer;
    throw new CheckFailedError(
      `the chain is incomplete: the issuer "${m.subject}"${m.aki ? ` (AKI ${m.aki})` : ''} is missing`,
      'Add the file with that intermediate (your CA publishes it), then run chain again.',
    );
  }
}
