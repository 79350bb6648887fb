// `xsoar-cert csr`: a certificate request whose key is born on this host and never travels
// (made by ops/csr.ts; listed, discarded and shown here).
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';
import { addFleetFlags, addTargetFlags, SETTINGS_HELP, type TargetFlags } from '../target-flags.js';
import type { Output } from '../output.js';
import type { CsrOptions, MadeRequest } from '../../ops/csr.js';

export interface CsrFlags extends TargetFlags {
  host: string[];
  subject?: string;
  keyType?: string;
  bits?: string;
  curve?: string;
  out?: string;
  keyOut?: string;
  force?: boolean;
  fromInstalled?: boolean;
  list?: boolean;
  discard?: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('csr')
    .description(
      'make a key and a certificate signing request (PKCS#10) for your PKI team or CA; ' +
        'the key stays here as a pending request',
    )
    .option(
      '--host <name|ip>',
      'a DNS name or IP the certificate must cover (repeatable; the first is the CN)',
      collect,
      [],
    )
    .option('--subject <dn>', 'more of the subject, e.g. "O=Example Corp,OU=SecOps,L=Berlin,C=DE"')
    .option('--key-type <type>', 'rsa or ecdsa (default rsa; with --from-installed: the installed key type)')
    .option('--bits <n>', 'RSA key size: 2048, 3072 or 4096 (default 3072)')
    .option('--curve <name>', 'ECDSA curve: P-256 or P-384 (default P-256)')
    .option('--out <file>', 'where to write the CSR (default: <first host>.csr in the current folder)')
    .option('--key-out <file>', 'write the key to this file (0600) instead of keeping it as a pending request')
    .option('--force', 'overwrite --out / --key-out if they exist')
    .option(
      '--from-installed',
      'take the names and the key type and size from the certificate installed in the tenant secret',
    );
  addFleetFlags(addTargetFlags(cmd))
    .option('--list', 'list the pending requests')
    .option('--discard <id>', 'delete a pending request and its key')
    .option('--json', 'print the result as JSON (never the key)')
    .option('-q, --quiet', 'print only the CSR')
    .addHelpText(
      'after',
      '\nThe key is kept in the state dir as a pending request (folder 0700, file 0600), never printed.\n' +
        'When the signed certificate comes back, install it without --key: the pending key whose public\n' +
        'key matches is used, and removed once the install succeeded (--keep-request keeps it).\n' +
        SETTINGS_HELP +
        helpAfter(
          'xsoar-cert csr --host xsoar.example.com --host 10.0.0.5 --subject "O=Example Corp,C=DE"',
          'xsoar-cert csr --from-installed -n xsoar          # a renewal request with the installed names',
          '# send xsoar.example.com.csr to your PKI team / ADCS web enrollment, then:',
          'xsoar-cert install --cert signed.crt --chain issuing-ca.pem --ca root.pem -n xsoar',
          'xsoar-cert csr --list',
        ),
    )
    .action(async (flags: CsrFlags) => runCsr(flags));
}

export async function runCsr(flags: CsrFlags): Promise<void> {
  const { Output } = await import('../output.js');
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  if (flags.list) return listPending(out);
  const csr = await import('../../ops/csr.js');
  if (flags.discard !== undefined) {
    const r = csr.discardPending(flags.discard);
    if (flags.json) return out.emit({ ok: true, discarded: { id: r.id, names: r.names } });
    out.result(`discarded pending request ${r.id} for ${r.names.join(', ')} and its key`);
    return;
  }
  const o: CsrOptions = {
    hosts: flags.host,
    subject: flags.subject,
    keyType: flags.keyType,
    bits: flags.bits,
    curve: flags.curve,
    out: flags.out,
    keyOut: flags.keyOut,
    force: flags.force,
    fromInstalled: flags.fromInstalled,
    where: flags,
  };
  const plans = await csr.planCsr(o, out);
  const made: MadeRequest[] = [];
  for await (const m of csr.makeRequests(o, plans, out)) {
    made.push(m);
    if (!flags.json) showMade(m, flags, out);
  }
  if (flags.json) out.emit({ ok: true, requests: made });
}

async function listPending(out: Output): Promise<void> {
  const { listRequests } = await import('../../ops/requests.js');
  const all = listRequests();
  if (out.json) return out.emit({ requests: all });
  if (all.length === 0) out.result('no pending requests');
  for (const r of all)
    out.result(
      `${String(r.id).padStart(3)}  ${r.created.slice(0, 19).replace('T', ' ')}  ${r.key.padEnd(11)}  ` +
        `${r.names.join(', ')}\n     csr ${r.csrFile}\n     public key sha256 ${r.publicKeySha256}` +
        (r.for?.length ? `\n     for ${r.for.join(', ')}` : ''),
    );
}

/** The CSR on stdout, where it went and what to do next on stderr. */
function showMade(m: MadeRequest, flags: CsrFlags, out: Output): void {
  process.stdout.write(m.csrPem);
  out.ok(`wrote ${m.csrFile} for ${m.names.join(', ')} (${m.key})${m.for ? `; for ${m.for.join(', ')}` : ''}`);
  const oneTenant = m.for && m.for.length === 1 ? ` -n ${m.for[0]!.split('/')[0]}` : '';
  out.info(
    m.id !== null
      ? `the key is kept as pending request ${m.id} in the state dir (never shown). ` +
          'Send the CSR to your PKI team or CA (paste it into the ADCS web enrollment page), ' +
          `then: xsoar-cert install --cert signed.crt${oneTenant}`
      : `the key is in ${m.keyFile} (0600). Send the CSR to your CA, ` +
          `then: xsoar-cert install --cert signed.crt --key ${flags.keyOut}`,
  );
}
