// The work behind `csr`, loaded only when the command runs.
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { Output } from '../output.js';
import { writeNew } from '../write-files.js';
import type { CsrFlags } from './csr.js';

interface Planned {
  names: string[];
  key: { type: 'rsa'; bits: number } | { type: 'ecdsa'; curve: 'P-256' | 'P-384' };
  targets?: string[];
}

function keySpec(
  flags: CsrFlags,
  basis?: { keyType: 'rsa' | 'ecdsa'; bits?: number; curve?: 'P-256' | 'P-384' },
  out?: Output,
): Planned['key'] {
  const type = flags.keyType ?? basis?.keyType ?? 'rsa';
  if (type !== 'rsa' && type !== 'ecdsa') throw new UsageError(`--key-type must be rsa or ecdsa, not "${type}"`);
  if (type === 'ecdsa') {
    const curve = flags.curve ?? basis?.curve ?? 'P-256';
    if (curve !== 'P-256' && curve !== 'P-384') throw new UsageError(`--curve must be P-256 or P-384, not "${curve}"`);
    return { type, curve };
  }
  const bits =
    flags.bits !== undefined
      ? Number(flags.bits)
      : Math.max(basis?.keyType === 'rsa' ? (basis.bits ?? 3072) : 3072, 2048);
  if (![2048, 3072, 4096].includes(bits))
    throw new UsageError(`--bits must be 2048, 3072 or 4096, not "${flags.bits}"`);
  if (flags.bits !== undefined && basis?.keyType === 'rsa' && basis.bits && bits < basis.bits) {
    out?.warn(
      `--bits ${bits} is smaller than the installed key (${basis.bits} bits)${bits < 3072 ? ': RSA under 3072 bits is below the strength recommended past 2030 (NIST SP 800-57)' : ''}`,
    );
  }
  return { type, bits };
}

function checkNames(hosts: string[]): string[] {
  if (hosts.length === 0)
    throw new UsageError(
      'csr needs --host NAME (repeatable), or --from-installed',
      'Example: xsoar-cert csr --host xsoar.example.com --host 10.0.0.5',
    );
  return hosts;
}

export async function runCsr(flags: CsrFlags): Promise<void> {
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const requests = await import('../../ops/requests.js');
  if (flags.list) {
    const all = requests.listRequests();
    if (flags.json) return out.emit({ requests: all });
    if (all.length === 0) out.result('no pending requests');
    for (const r of all)
      out.result(
        `${String(r.id).padStart(3)}  ${r.created.slice(0, 19).replace('T', ' ')}  ${r.key.padEnd(11)}  ${r.names.join(', ')}\n     csr ${r.csrFile}\n     public key sha256 ${r.publicKeySha256}${r.for?.length ? `\n     for ${r.for.join(', ')}` : ''}`,
      );
    return;
  }
  if (flags.discard !== undefined) {
    const id = Number(flags.discard);
    if (!Number.isInteger(id) || id <= 0)
      throw new UsageError(`--discard takes a request id (see csr --list), not "${flags.discard}"`);
    const r = requests.discardRequest(id);
    if (flags.json) return out.emit({ ok: true, discarded: { id: r.id, names: r.names } });
    out.result(`discarded pending request ${r.id} for ${r.names.join(', ')} and its key`);
    return;
  }
  const { requestName } = await import('../../pki/hostname.js');
  const plans: Planned[] = [];
  if (flags.fromInstalled) {
    if (flags.host.length) throw new UsageError('use either --host or --from-installed, not both');
    const { resolveSettings } = await import('../../ops/settings.js');
    const { resolveTargets } = await import('../../ops/fleet.js');
    const { Kubectl } = await import('../../k8s/kubectl.js');
    const { retrying } = await import('../../ops/retry.js');
    const settings = resolveSettings(flags);
    const kubectl = new Kubectl({
      namespace: settings.namespace,
      context: settings.context,
      kubeconfig: settings.kubeconfig,
    });
    const targets = await resolveTargets(
      {
        namespace: flags.namespace,
        allNamespaces: flags.allNamespaces,
        selector: flags.selector,
        tenantsFile: flags.tenantsFile,
      },
      { namespace: settings.namespace, secret: settings.secret },
      kubectl,
    );
    const bases = await requests.basisFromInstalled(targets, async (t) => {
      const r = await retrying(() => kubectl.forNamespace(t.namespace).getSecret(t.secret));
      if (!r.found) {
        const { KubectlError } = await import('../../errors.js');
        throw new KubectlError(`secret "${t.secret}" not found in namespace "${t.namespace}"`, {
          verb: 'get',
          args: [],
          reason: 'NotFound',
          hint: 'Check --namespace and --secret.',
        });
      }
      return r.object;
    });
    for (const b of bases) plans.push({ names: b.names, key: keySpec(flags, b, out), targets: b.targets });
  } else {
    plans.push({ names: checkNames(flags.host), key: keySpec(flags, undefined, out) });
  }
  if (plans.length > 1 && flags.out)
    throw new UsageError(
      `--out names one file, but the targets need ${plans.length} requests (their names differ)`,
      'Leave out --out: each request is written as <first host>.csr.',
    );
  if (plans.length > 1 && flags.keyOut)
    throw new UsageError('--key-out names one file, but the targets need several requests');
  // Names a CA will refuse stop everything before a key is made.
  for (const p of plans) {
    p.names = p.names.map((n) => {
      const r = requestName(n);
      if ('problem' in r) throw new UsageError(r.problem);
      if (r.note) out.info(r.note);
      return r.name;
    });
  }
  const { generateCsr } = await import('../../pki/generate.js');
  const { createPublicKey } = await import('node:crypto');
  const made = [];
  for (const p of plans) {
    const label = p.key.type === 'rsa' ? `rsa ${p.key.bits}` : `ecdsa ${p.key.curve}`;
    const { csrPem, keyPem } = await out.wait(
      `making a ${label} key`,
      generateCsr({ hosts: p.names, subject: flags.subject, key: p.key }),
    );
    const csrFile = path.resolve(
      flags.out ?? `${p.names[0]!.replace(/^\*\./, 'wildcard.').replace(/[^A-Za-z0-9._-]/g, '_')}.csr`,
    );
    await writeNew(csrFile, csrPem, { mode: 0o644, force: flags.force });
    const spki = createPublicKey(keyPem).export({ format: 'der', type: 'spki' });
    const base = { names: p.names, key: label, csrFile, publicKeySha256: requests.spkiSha256(spki) };
    let id: number | undefined;
    if (flags.keyOut) {
      await writeNew(path.resolve(flags.keyOut), keyPem, { mode: 0o600, force: flags.force });
    } else {
      const subject = `CN=${p.names[0]}${flags.subject ? `, ${flags.subject}` : ''}`;
      id = requests.saveRequest(
        { created: new Date().toISOString(), subject, ...base, ...(p.targets ? { for: p.targets } : {}) },
        keyPem,
      ).id;
    }
    made.push({
      id: id ?? null,
      ...base,
      keyFile: flags.keyOut ? path.resolve(flags.keyOut) : null,
      for: p.targets ?? null,
      csrPem,
    });
    if (!flags.json) {
      process.stdout.write(csrPem);
      out.ok(
        `wrote ${csrFile} for ${p.names.join(', ')} (${label})${p.targets ? `; for ${p.targets.join(', ')}` : ''}`,
      );
      out.info(
        id !== undefined
          ? `the key is kept as pending request ${id} in the state dir (never shown). Send the CSR to your PKI team or CA (paste it into the ADCS web enrollment page), then: xsoar-cert install --cert signed.crt${p.targets && p.targets.length === 1 ? ` -n ${p.targets[0]!.split('/')[0]}` : ''}`
          : `the key is in ${path.resolve(flags.keyOut!)} (0600). Send the CSR to your CA, then: xsoar-cert install --cert signed.crt --key ${flags.keyOut}`,
      );
    }
  }
  if (flags.json) out.emit({ ok: true, requests: made });
}
