// `xsoar-cert generate`: development certificates, mkcert style (made by ops/generate.ts).
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';

interface GenerateFlags {
  host: string[];
  keyType: string;
  bits: string;
  curve: string;
  days?: string;
  outDir: string;
  ca?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('generate')
    .description('create a development server certificate and key (self-signed, or signed by a local dev CA with --ca)')
    .option(
      '--host <name|ip>',
      'a DNS name or IP address to cover (repeatable; the first is the subject CN)',
      collect,
      [],
    )
    .option('--key-type <type>', 'rsa or ecdsa', 'rsa')
    .option('--bits <n>', 'RSA key size: 2048, 3072 or 4096', '2048')
    .option('--curve <name>', 'ECDSA curve: P-256 or P-384', 'P-256')
    .option('--days <n>', 'validity in days (default 397: under the 398-day browser limit)')
    .option('--out-dir <dir>', 'where to write the files', '.')
    .option('--ca', 'sign with a development CA in --out-dir (rootCA.pem / rootCA-key.pem), creating it if absent')
    .option('--force', 'overwrite existing files')
    .option('--json', 'print what was written as JSON')
    .option('-q, --quiet', 'print only the file names')
    .addHelpText(
      'after',
      helpAfter(
        'xsoar-cert generate --host xsoar.example.com --host 10.0.0.5',
        'xsoar-cert generate --ca --host localhost --host 127.0.0.1 --key-type ecdsa --out-dir ./dev-certs',
        '# then check it as install would:',
        'xsoar-cert verify --cert ./dev-certs/localhost+1.pem --key ./dev-certs/localhost+1-key.pem ' +
          '--ca ./dev-certs/rootCA.pem --host localhost',
      ),
    )
    .action(async (flags: GenerateFlags) => runGenerate(flags));
}

async function runGenerate(flags: GenerateFlags): Promise<void> {
  const { Output } = await import('../output.js');
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const { planGenerate, executeGenerate } = await import('../../ops/generate.js');
  const plan = await planGenerate({ ...flags, hosts: flags.host });
  const g = await executeGenerate(plan, out);
  const info = g.certificate;
  if (flags.json) return out.emit({ ok: true, files: g.files, certificate: info, ca: g.caFile ?? null });
  for (const w of g.files) out.result(`${w.file}  (${w.kind}, mode ${w.mode})`);
  const hosts = flags.host;
  out.info(
    `Created a ${g.selfSigned ? 'self-signed' : 'CA-signed'} development certificate for ${hosts.join(', ')}, ` +
      `valid until ${info.notAfter} (${info.daysLeft} days).`,
  );
  const { certFile, keyFile } = plan;
  out.info(
    `Check it: xsoar-cert verify --cert ${certFile} --key ${keyFile} --ca ${g.caFile ?? certFile} --host ${hosts[0]}`,
  );
  if (g.selfSigned)
    out.info('Self-signed certificates are for development only: clients will warn until they trust it.');
}
