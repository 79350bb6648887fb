// Every delivery a CA or a tool really sends, made at test time with openssl, through the built
// CLI: the verdict and the message asserted, and openssl asked where it has an opinion.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { runCli } from '../helpers/run-cli.js';
import { fp } from '../helpers/test-ca.js';
import { makeCorpus, makeLeaf, openssl, pemBlocks, read, type Corpus } from '../helpers/openssl-corpus.js';
import { issueCertificate, type IssuedCert } from '../../src/pki/generate.js';

const DAY = 86_400_000;
let c: Corpus;
let leaf: string;
let leafKey: string;
beforeAll(() => {
  c = makeCorpus();
  [leaf, leafKey] = makeLeaf(c, 'leaf');
  writeFileSync(c.f('chain.pem'), read(c.int) + read(c.root));
});

type Check = { id: string; status: string; message: string };
const checksOf = (stdout: string): Check[] => JSON.parse(stdout).checks;

describe('PKCS#7 (.p7b/.p7c): DER, BEGIN PKCS7, and the ADCS "Base 64" armour under BEGIN CERTIFICATE', () => {
  const deliveries: [string, () => string][] = [
    [
      'DER .p7b',
      () => (
        openssl(['crl2pkcs7', '-nocrl', '-certfile', c.f('all.pem'), '-outform', 'DER', '-out', c.f('all.p7b')]),
        c.f('all.p7b')
      ),
    ],
    [
      'PEM "BEGIN PKCS7"',
      () => (
        openssl(['crl2pkcs7', '-nocrl', '-certfile', c.f('all.pem'), '-out', c.f('all-pem.p7b')]),
        c.f('all-pem.p7b')
      ),
    ],
    // Windows ADCS's certnew.p7b "Base 64 encoded": the same SignedData, armoured as a certificate.
    [
      'ADCS armour',
      () => (
        writeFileSync(c.f('certnew.p7b'), read(c.f('all-pem.p7b')).replace(/PKCS7/g, 'CERTIFICATE')),
        c.f('certnew.p7b')
      ),
    ],
  ];
  beforeAll(() => writeFileSync(c.f('all.pem'), read(leaf) + read(c.int) + read(c.root)));

  test.each(deliveries)(
    '%s: inspect reads the certificates openssl pkcs7 -print_certs prints; chain and verify use it',
    async (_name, make) => {
      const file = make();
      const printed = pemBlocks(openssl(['pkcs7', '-in', c.f('all.p7b'), '-inform', 'DER', '-print_certs']));
      const r = await runCli(['inspect', '--json', file]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).certificates.map((x: { sha256: string }) => x.sha256)).toEqual(printed.map(fp));
      // The p7b as --chain: verify builds leaf → intermediate → root from it.
      const v = await runCli([
        'verify',
        '--cert',
        leaf,
        '--key',
        leafKey,
        '--chain',
        file,
        '--ca',
        c.root,
        '--host',
        'corpus.example',
        '--json',
      ]);
      expect(v.code).toBe(0);
      expect(JSON.parse(v.stdout).chain.map((x: { sha256: string }) => x.sha256)).toEqual([
        fp(read(leaf)),
        fp(read(c.int)),
        fp(read(c.root)),
      ]);
      const ch = await runCli(['chain', file, '--key', leafKey, '--no-root', '--ca', c.root]);
      expect(ch.code).toBe(0);
      expect(pemBlocks(ch.stdout).map(fp)).toEqual([fp(read(leaf)), fp(read(c.int))]);
    },
  );

  test('a PKCS#7 with no certificate, and a damaged one, are named as such (exit 3)', async () => {
    // An empty degenerate SignedData: openssl crl2pkcs7 -nocrl with no -certfile.
    openssl(['crl2pkcs7', '-nocrl', '-outform', 'DER', '-out', c.f('empty.p7b')]);
    const e = await runCli(['inspect', c.f('empty.p7b')]);
    expect(e.code).toBe(3);
    expect(e.stderr).toMatch(/empty\.p7b: the PKCS#7 \(\.p7b\) bundle holds no certificate/);
    const der = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', leaf, '-outform', 'DER']);
    writeFileSync(c.f('cut.p7b'), der.subarray(0, der.length - 40));
    const t = await runCli(['inspect', c.f('cut.p7b')]);
    expect(t.code).toBe(3);
    expect(t.stderr.split('\n')[0]).toMatch(/cut\.p7b: the DER data is truncated/);
  });
});

describe('passphrases in any language', () => {
  const phrases = ['pässwörd', 'пароль', '密码'];

  test.each(phrases)(
    'PKCS#12 from OpenSSL 3 (AES-256/PBKDF2) and with -legacy (3DES/RC2), passphrase %s',
    async (phrase) => {
      const pass = c.f(`pass-${Buffer.from(phrase).toString('hex')}.txt`);
      writeFileSync(pass, phrase + '\n');
      for (const legacy of [false, true]) {
        const p12 = c.f(`t-${legacy}-${Buffer.from(phrase).toString('hex')}.p12`);
        openssl([
          'pkcs12',
          '-export',
          ...(legacy ? ['-legacy'] : []),
          '-in',
          leaf,
          '-inkey',
          leafKey,
          '-certfile',
          c.f('chain.pem'),
          '-passout',
          `file:${pass}`,
          '-out',
          p12,
        ]);
        // openssl's reading of the same file is the reference.
        const ref = pemBlocks(
          openssl(['pkcs12', ...(legacy ? ['-legacy'] : []), '-in', p12, '-passin', `file:${pass}`, '-nokeys']),
        );
        const r = await runCli(['inspect', '--json', p12, '--passphrase-file', pass]);
        expect({ legacy, code: r.code, err: r.stderr }).toEqual({ legacy, code: 0, err: '' });
        const j = JSON.parse(r.stdout);
        expect(j.certificates.map((x: { sha256: string }) => x.sha256).sort()).toEqual(ref.map(fp).sort());
        expect(j.keys[0].matches).toBe('CN=corpus.example');
        // Same file, wrong passphrase: one line, exit 3.
        writeFileSync(c.f('wrong.txt'), phrase.slice(0, -1) + '\n');
        const w = await runCli(['inspect', p12, '--passphrase-file', c.f('wrong.txt')]);
        expect(w.code).toBe(3);
        expect(w.stderr.split('\n')[0]).toMatch(/wrong passphrase/);
      }
    },
  );

  test.each(phrases)(
    'encrypted PKCS#8 and legacy Proc-Type PEM keys (RSA and EC), passphrase %s; inspect says encrypted',
    async (phrase) => {
      const pass = c.f(`kp-${Buffer.from(phrase).toString('hex')}.txt`);
      writeFileSync(pass, phrase);
      const [rsaLeaf, rsaKey] = makeLeaf(c, `rsa-${Buffer.from(phrase).toString('hex')}`, { key: 'rsa' });
      const cases: [string, string, string[], RegExp][] = [
        ['pkcs8', leafKey, ['pkcs8', '-topk8', '-v2', 'aes-256-cbc'], /\(pkcs8-encrypted\)/],
        ['legacy EC', leafKey, ['ec', '-aes256'], /\(sec1, encrypted\)/],
        ['legacy RSA', rsaKey, ['rsa', '-traditional', '-aes256'], /\(pkcs1, encrypted\)/],
      ];
      for (const [name, key, cmd, format] of cases) {
        const out = c.f(`enc-${name.replace(' ', '-')}-${Buffer.from(phrase).toString('hex')}.pem`);
        openssl([...cmd, '-in', key, '-passout', `file:${pass}`, '-out', out]);
        if (name.startsWith('legacy')) expect(read(out)).toMatch(/Proc-Type: 4,ENCRYPTED/);
        const cert = name === 'legacy RSA' ? rsaLeaf : leaf;
        const r = await runCli(['inspect', out, cert, '--passphrase-file', pass]);
        expect({ name, code: r.code, err: r.stderr }).toEqual({ name, code: 0, err: '' });
        expect(r.stdout).toMatch(format);
        expect(r.stdout).toMatch(/matches CN=corpus\.example/);
      }
    },
  );
});

describe("one path builder: the Let's Encrypt 2021 shape", () => {
  // leaf ← R3 ← ISRG Root X1 (self-signed, valid), and X1 cross-signed by DST Root CA X3; DST and
  // the cross-sign have expired. All in one bundle, as fullchain.pem plus both roots.
  let x1: IssuedCert, dst: IssuedCert, cross: IssuedCert, r3: IssuedCert, le: IssuedCert;
  beforeAll(async () => {
    const past = new Date(Date.now() - 2000 * DAY);
    dst = await issueCertificate({
      subject: 'CN=DST Root CA X3, O=Digital Signature Trust Co.',
      isCA: true,
      key: { type: 'ecdsa' },
      notBefore: past,
      days: 1500,
    });
    x1 = await issueCertificate({
      subject: 'CN=ISRG Root X1, O=Internet Security Research Group',
      isCA: true,
      key: { type: 'ecdsa' },
      days: 3650,
    });
    cross = await issueCertificate({
      subject: 'CN=ISRG Root X1, O=Internet Security Research Group',
      isCA: true,
      key: { keyPem: x1.keyPem },
      issuer: dst,
      notBefore: past,
      days: 1600,
    });
    r3 = await issueCertificate({
      subject: "CN=R3, O=Let's Encrypt",
      isCA: true,
      pathLen: 0,
      key: { type: 'ecdsa' },
      issuer: x1,
      days: 1800,
    });
    le = await issueCertificate({
      subject: 'corpus.example',
      dnsNames: ['corpus.example'],
      ipAddresses: ['127.0.0.1'],
      key: { type: 'ecdsa' },
      issuer: r3,
      days: 90,
    });
    writeFileSync(c.f('le-bundle.pem'), le.certPem + r3.certPem + cross.certPem + dst.certPem + x1.certPem);
    writeFileSync(c.f('le-key.pem'), le.keyPem);
    writeFileSync(c.f('x1.pem'), x1.certPem);
    writeFileSync(c.f('dst.pem'), dst.certPem);
    writeFileSync(c.f('le-leaf.pem'), le.certPem);
    writeFileSync(c.f('le-untrusted.pem'), r3.certPem + cross.certPem);
  });

  test('openssl agrees on the facts: the path to X1 verifies, the path to DST is expired', () => {
    expect(
      openssl(['verify', '-CAfile', c.f('x1.pem'), '-untrusted', c.f('le-untrusted.pem'), c.f('le-leaf.pem')]),
    ).toMatch(/: OK/);
    expect(() =>
      openssl(['verify', '-CAfile', c.f('dst.pem'), '-untrusted', c.f('le-untrusted.pem'), c.f('le-leaf.pem')]),
    ).toThrow(/expired/);
  });

  test.each([[['--ca', 'x1.pem']], [[]]])(
    'chain %j writes leaf → R3 → ISRG Root X1 and names the expired cross-sign and DST root as left out',
    async (extra) => {
      const args = extra.length ? ['--ca', c.f('x1.pem')] : [];
      const r = await runCli(['chain', c.f('le-bundle.pem'), '--key', c.f('le-key.pem'), ...args, '--json']);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.chain.map((x: { sha256: string }) => x.sha256)).toEqual([
        fp(le.certPem),
        fp(r3.certPem),
        fp(x1.certPem),
      ]);
      const why = j.dropped.map((d: { subject: string; why: string }) => `${d.subject}: ${d.why}`);
      expect(why).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /ISRG Root X1.*: a cross-signed copy of a CA in the chain that expired on .*; the chain ends at "ISRG Root X1"/,
          ),
          expect.stringMatching(/DST Root CA X3.*: another root that expired on/),
        ]),
      );
      // --no-root: what a server sends is leaf → R3, never the expired cross-sign.
      const nr = await runCli(['chain', c.f('le-bundle.pem'), '--key', c.f('le-key.pem'), ...args, '--no-root']);
      expect(pemBlocks(nr.stdout).map(fp)).toEqual([fp(le.certPem), fp(r3.certPem)]);
    },
  );

  test('verify picks the valid path and says which certificates it leaves out and why', async () => {
    const r = await runCli([
      'verify',
      '--cert',
      c.f('le-bundle.pem'),
      '--key',
      c.f('le-key.pem'),
      '--ca',
      c.f('x1.pem'),
      '--host',
      'corpus.example',
      '--no-tls',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.chain.map((x: { sha256: string }) => x.sha256)).toEqual([fp(le.certPem), fp(r3.certPem), fp(x1.certPem)]);
    const unused = j.checks.filter((x: Check) => x.id === 'chain.unused').map((x: Check) => x.message);
    expect(unused).toHaveLength(2);
    expect(unused.join('\n')).toMatch(/cross-signed copy .* expired/);
    const text = await runCli([
      'verify',
      '--cert',
      c.f('le-bundle.pem'),
      '--key',
      c.f('le-key.pem'),
      '--ca',
      c.f('x1.pem'),
      '--no-tls',
    ]);
    expect(text.stdout + text.stderr).toMatch(
      /· .*"DST Root CA X3" .* is left out of the served chain: another root that expired/,
    );
  });

  test('chain with two certificates for the same key and no --key takes the newest valid one and says so', async () => {
    const older = await issueCertificate({
      subject: 'corpus.example',
      dnsNames: ['corpus.example'],
      key: { keyPem: le.keyPem },
      issuer: r3,
      notBefore: new Date(Date.now() - 60 * DAY),
      days: 90,
    });
    writeFileSync(c.f('two-leaves.pem'), older.certPem + le.certPem + r3.certPem);
    const r = await runCli(['chain', c.f('two-leaves.pem'), '--ca', c.f('x1.pem'), '--no-root']);
    expect(r.code).toBe(0);
    expect(pemBlocks(r.stdout).map(fp)).toEqual([fp(le.certPem), fp(r3.certPem)]);
    expect(r.stderr).toMatch(/2 certificates for the same key were given; using the newest valid one/);
    expect(r.stderr).toMatch(/dropped .*another certificate for the same key: it is older/);
  });
});

describe('lint that tells the truth', () => {
  test.each([
    ['ed25519', 'fail', /an Ed25519 key; Chrome, Firefox, Safari and Edge refuse Ed25519 server certificates/],
    ['ed448', 'fail', /an Ed448 key; .* refuse Ed448 server certificates/],
    ['rsa-pss', 'fail', /RSA-PSS-only key .* refuse it for a server certificate/],
    ['p521', 'warn', /P-521 key; Chrome does not offer P-521/],
  ] as const)(
    '%s leaf: lint.key-type %s (openssl verify accepts the chain: it has no browser opinion)',
    async (key, status, msg) => {
      const [cert, k] = makeLeaf(c, `kt-${key}`, { key });
      expect(openssl(['verify', '-CAfile', c.root, '-untrusted', c.int, cert])).toMatch(/: OK/);
      const r = await runCli([
        'verify',
        '--cert',
        cert,
        '--key',
        k,
        '--chain',
        c.int,
        '--ca',
        c.root,
        '--host',
        'corpus.example',
        '--no-tls',
        '--json',
      ]);
      expect({ code: r.code, err: r.stderr }).toEqual({ code: status === 'fail' ? 1 : 0, err: '' });
      const found = checksOf(r.stdout).filter((x) => x.id === 'lint.key-type');
      expect(found.map((x) => x.status)).toEqual([status]);
      expect(found[0]!.message).toMatch(msg);
      expect(found[0]!.message).toMatch(/kt-.*\.pem: "corpus\.example"/);
    },
  );

  test.each([
    [397, []],
    [500, ['info']],
    [900, ['fail']],
  ] as const)('a %i-day leaf under a private root: lint.lifetime %j', async (days, states) => {
    const [cert, k] = makeLeaf(c, `life-${days}`, { days });
    const r = await runCli([
      'verify',
      '--cert',
      cert,
      '--key',
      k,
      '--chain',
      c.int,
      '--ca',
      c.root,
      '--no-tls',
      '--json',
    ]);
    expect({ code: r.code, err: r.stderr }).toEqual({ code: states[0] === 'fail' ? 1 : 0, err: '' });
    const found = checksOf(r.stdout).filter((x) => x.id === 'lint.lifetime');
    expect(found.map((x) => x.status)).toEqual(states);
    if (days === 900) expect(found[0]!.message).toMatch(/valid for 900 days; Apple clients .* refuse/);
  });

  test('sequential serials (openssl ca style) are told apart: full serials in messages', async () => {
    const a = await issueCertificate({
      subject: 'corpus.example',
      dnsNames: ['corpus.example'],
      key: { type: 'ecdsa' },
      serial: '1831d89c73aa687c0001',
    });
    const b = await issueCertificate({
      subject: 'corpus.example',
      dnsNames: ['corpus.example'],
      key: { type: 'ecdsa' },
      serial: '1831d89c73aa687c0002',
    });
    writeFileSync(c.f('serial-a.pem'), a.certPem);
    writeFileSync(c.f('serial-b-key.pem'), b.keyPem);
    const r = await runCli([
      'verify',
      '--cert',
      c.f('serial-a.pem'),
      '--key',
      c.f('serial-b-key.pem'),
      '--ca',
      c.f('serial-a.pem'),
      '--no-tls',
    ]);
    expect(r.code).toBe(1);
    const all = r.stdout + r.stderr;
    expect(all).toMatch(/serial 1831D89C73AA687C0001\)/);
    expect(all).not.toMatch(/…/);
  });
});
