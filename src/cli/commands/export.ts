// `xsoar-cert export --palette`: the three values Palette VerteX's system console takes, checked
// as the console checks them (ops/export-palette.ts); this file maps the flags and renders.
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';

interface ExportFlags {
  palette?: boolean;
  outDir?: string;
  cert?: string;
  key?: string;
  chain: string[];
  ca?: string;
  address?: string;
  previousAddress?: string;
  allowNameChange?: boolean;
  passphraseFile?: string;
  force?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('export')
    .description("write a certificate, its CA and key in another system's format (--palette: Palette VerteX)")
    .option('--palette', "Palette VerteX's system console: certificate.b64, ca.b64, key.b64 (base64-encoded PEM)")
    .option('--out-dir <dir>', 'where to write them (created 0700; each file 0600)')
    .option('--cert <file>', 'the certificate (PEM, DER or PKCS#12)')
    .option('--key <file>', 'its private key')
    .option('--chain <file>', 'intermediate certificates (repeatable)', collect, [])
    .option('--ca <file>', 'the CA the certificate chains to')
    .option('--address <name|ip>', "the console's address: its custom domain, or its (or the load balancer's) IP")
    .option('--previous-address <name|ip>', 'the address the console answers on now: the new certificate must keep it')
    .option('--allow-name-change', 'allow a certificate that drops --previous-address')
    .option('--passphrase-file <file>', 'the key passphrase (or XSOAR_CERT_PASSPHRASE)')
    .option('--force', 'overwrite files already in --out-dir')
    .option('--json', 'print what was written as JSON')
    .addHelpText(
      'after',
      helpAfter(
        'xsoar-cert export --palette --out-dir ./palette --cert vertex.pem --key vertex-key.pem --ca root.pem ' +
          '--address vertex.example.com --previous-address 10.0.0.9',
        '# then paste each file into the System Address page (Administration > Certificates):',
        'cat ./palette/certificate.b64',
      ),
    )
    .action(async (flags: ExportFlags) => runExport(flags));
}

async function runExport(flags: ExportFlags): Promise<void> {
  const { UsageError, CheckFailedError } = await import('../../errors.js');
  if (!flags.palette) throw new UsageError('export needs a format: --palette (the only one for now)');
  for (const [flag, v] of [
    ['--out-dir DIR', flags.outDir],
    ['--cert FILE', flags.cert],
    ['--address NAME|IP', flags.address],
  ] as const)
    if (!v) throw new UsageError(`export --palette needs ${flag}`);
  const { Output } = await import('../output.js');
  const out = new Output({ json: flags.json });
  const { exportPalette } = await import('../../ops/export-palette.js');
  const r = await exportPalette(
    {
      ...flags,
      outDir: flags.outDir!,
      cert: flags.cert!,
      address: flags.address!,
    },
    out,
  );
  if (!r.ok) {
    if (out.json) out.emit({ ok: false, stage: 'verify', report: r.report });
    else (await import('../print-checks.js')).printChecks(new Output({ quiet: false }), r.report);
    throw new CheckFailedError(
      `${flags.cert}: the console would refuse it: ${r.report.failures} check(s) failed; nothing was written`,
      'Fix the problems above, or run "xsoar-cert verify" for details.',
    );
  }
  if (out.json) return out.emit({ ok: true, files: r.files, fingerprint: r.fingerprint, notAfter: r.notAfter });
  for (const f of r.files) out.result(`${f.file}  (paste into "${f.what}", mode 0600)`);
}
