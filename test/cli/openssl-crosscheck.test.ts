// Our verdict against `openssl verify` on the same files, where OpenSSL has an opinion:
// `openssl verify -CAfile root -untrusted chain [-verify_hostname h | -verify_ip ip] [-attime t] leaf`.
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';
import { issueCertificate, type CertSpec } from '../../src/pki/generate.js';

interface Files {
  root: string;
  chain?: string;
  leaf: string;
}
interface Opts {
  host?: string;
  at?: Date;
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const maybe = hasOpenssl ? test : test.skip;

function opensslOk(f: Files, o: Opts): boolean {
  const args = ['verify', '-CAfile', f.root, '-purpose', 'sslserver'];
  if (f.chain) args.push('-untrusted', f.chain);
  if (o.host) args.push(isIP(o.host) ? '-verify_ip' : '-verify_hostname', o.host);
  if (o.at) args.push('-attime', String(Math.floor(o.at.getTime() / 1000)));
  args.push(f.leaf);
  return spawnSync('openssl', args, { encoding: 'utf8' }).status === 0;
}

async function oursOk(f: Files, o: Opts): Promise<boolean> {
  const args = ['verify', '--cert', f.leaf, '--ca', f.root, '--no-tls'];
  if (f.chain) args.push('--chain', f.chain);
  if (o.host) args.push('--host', o.host);
  if (o.at) args.push('--at', o.at.toISOString());
  const r = await runCli(args);
  // Anything but "fit" (0) or "not fit" (1) would be a crash or an input error: not a verdict.
  expect([0, 1]).toContain(r.code);
  return r.code === 0;
}

async function compare(name: string, f: Files, o: Opts, expected: boolean): Promise<void> {
  const theirs = opensslOk(f, o);
  const ours = await oursOk(f, o);
  // The first line proves the case is what we think it is; the second, that we agree with OpenSSL.
  expect({ case: name, openssl: theirs }).toEqual({ case: name, openssl: expected });
  expect({ case: name, ours }).toEqual({ case: name, ours: theirs });
}

describe.each([
  ['rsa', 2],
  ['ecdsa', 1],
] as const)('same verdicts as openssl verify for a %s chain with %i intermediate(s)', (keyType, intermediates) => {
  let m: MintedChain;
  let other: MintedChain;
  beforeAll(async () => {
    m = await mintChain({ keyType, intermediates, hosts: ['tenant.example.com', '192.0.2.7', '2001:db8::7'] });
    other = await mintChain({ keyType: 'ecdsa', intermediates: 0 });
  });
  const files = (over: Partial<Files> = {}): Files => ({
    root: m.files.root,
    chain: m.files.chain,
    leaf: m.files.leaf,
    ...over,
  });

  maybe('good, by name, IPv4 and IPv6', async () => {
    await compare('good', files(), { host: 'tenant.example.com' }, true);
    await compare('good IPv4', files(), { host: '192.0.2.7' }, true);
    await compare('good IPv6', files(), { host: '2001:db8::7' }, true);
  });
  maybe('expired and not yet valid', async () => {
    await compare('expired', files(), { at: new Date(Date.now() + 200 * 86400_000) }, false);
    await compare('not yet valid', files(), { at: new Date(Date.now() - 2 * 86400_000) }, false);
  });
  maybe('wrong root and missing intermediate', async () => {
    await compare('wrong root', files({ root: other.files.root }), {}, false);
    await compare('missing intermediate', files({ chain: undefined }), {}, false);
  });
  maybe('host mismatch, an IP not in the IP SANs, a wildcard-depth miss', async () => {
    await compare('host mismatch', files(), { host: 'other.example.com' }, false);
    await compare('IP mismatch', files(), { host: '192.0.2.8' }, false);
    await compare('sub-subdomain', files(), { host: 'a.tenant.example.com' }, false);
  });
});

describe('same verdicts as openssl verify for broken CA structures', () => {
  let dir: string;
  beforeAll(async () => {
    dir = (await mintChain({ intermediates: 0 })).dir;
  });

  // root → int → leaf, with one certificate altered by `tweak`.
  async function build(
    name: string,
    tweak: { root?: Partial<CertSpec>; int?: Partial<CertSpec>; leaf?: Partial<CertSpec> },
  ): Promise<Files> {
    const root = await issueCertificate({
      subject: `CN=${name} Root`,
      isCA: true,
      key: { type: 'ecdsa' },
      ...tweak.root,
    });
    const int = await issueCertificate({
      subject: `CN=${name} Int`,
      isCA: true,
      issuer: root,
      key: { type: 'ecdsa' },
      ...tweak.int,
    });
    const leaf = await issueCertificate({
      subject: 'a.example.com',
      dnsNames: ['a.example.com'],
      issuer: int,
      key: { type: 'ecdsa' },
      days: 90,
      ...tweak.leaf,
    });
    const f = {
      root: path.join(dir, `${name}-root.pem`),
      chain: path.join(dir, `${name}-chain.pem`),
      leaf: path.join(dir, `${name}-leaf.pem`),
    };
    await writeFile(f.root, root.certPem);
    await writeFile(f.chain, int.certPem);
    await writeFile(f.leaf, leaf.certPem);
    return f;
  }

  maybe.each([
    ['control', {}, true],
    ['root pathLen 0 with an intermediate', { root: { pathLen: 0 } }, false],
    ['intermediate not a CA', { int: { isCA: false, eku: null } }, false],
    ['intermediate without keyCertSign', { int: { keyUsage: ['digitalSignature'] } }, false],
    ['name constraints permit the leaf', { int: { nameConstraints: { permittedDNS: ['example.com'] } } }, true],
    ['name constraints exclude the leaf', { int: { nameConstraints: { excludedDNS: ['a.example.com'] } } }, false],
    ['name constraints permit another domain', { root: { nameConstraints: { permittedDNS: ['example.org'] } } }, false],
    ['leaf EKU is clientAuth only', { leaf: { eku: ['clientAuth'] } }, false],
  ] as [string, Parameters<typeof build>[1], boolean][])('%s', async (name, tweak, expected) => {
    const f = await build(name.replace(/\W+/g, '-'), tweak);
    await compare(name, f, { host: 'a.example.com' }, expected);
  });
});
