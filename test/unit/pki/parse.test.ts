// Every input form, made with the openssl CLI at test time (an independent producer).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintChain, type MintedChain } from '../../helpers/test-ca.js';
import { parseBundle, readBundle } from '../../../src/pki/parse.js';
import { NeedsPassphraseError, WrongPassphraseError } from '../../../src/pki/entry.js';
import { keyMatchesCert } from '../../../src/pki/describe.js';
import { InputError } from '../../../src/errors.js';

const ossl = (args: string[], input?: string) =>
  execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

describe.each(['rsa', 'ecdsa'] as const)('parseBundle with %s material', (keyType) => {
  let m: MintedChain;
  const f = (n: string) => path.join(m.dir, n);
  beforeAll(async () => {
    m = await mintChain({ keyType, intermediates: 1 });
  });

  test('PEM with text around blocks, CRLF line ends and a BOM', () => {
    const text =
      '\ufeffBag Attributes\r\n' +
      m.leaf.certPem.replace(/\n/g, '\r\n') +
      'junk between\r\n' +
      m.intermediates[0]!.certPem.replace(/\n/g, '\r\n');
    const b = parseBundle(Buffer.from(text, 'utf8'), { source: 'x.pem' });
    expect(b.certs.map((c) => c.cert.subject)).toEqual([
      expect.stringContaining('localhost'),
      expect.stringContaining('Intermediate 1'),
    ]);
  });

  test('DER certificate and DER PKCS#8 key', () => {
    const der = ossl(['x509', '-outform', 'DER', '-in', m.files.leaf]);
    expect(parseBundle(der, { source: 'c.der' }).certs[0]!.cert.raw.equals(der)).toBe(true);
    const kder = ossl(['pkey', '-outform', 'DER', '-in', m.files.key]);
    const k = parseBundle(kder, { source: 'k.der' }).keys[0]!;
    expect(keyMatchesCert(k.key, parseBundle(der, { source: 'c.der' }).certs[0]!.cert)).toBe(true);
  });

  test('traditional PKCS#1 / SEC1 keys', () => {
    const trad = ossl(['pkey', '-in', m.files.key, '-traditional']).toString();
    expect(trad).toMatch(keyType === 'rsa' ? /BEGIN RSA PRIVATE KEY/ : /BEGIN EC PRIVATE KEY/);
    const k = parseBundle(Buffer.from(trad), { source: 'k.pem' }).keys[0]!;
    expect(k.format).toBe(keyType === 'rsa' ? 'pkcs1' : 'sec1');
    expect(keyMatchesCert(k.key, parseBundle(Buffer.from(m.leaf.certPem), { source: 'l' }).certs[0]!.cert)).toBe(true);
  });

  test('encrypted PKCS#8: needs a passphrase, rejects a wrong one, accepts the right one', () => {
    writeFileSync(f('pass.txt'), 's3cret\n');
    const enc = ossl([
      'pkcs8',
      '-topk8',
      '-in',
      m.files.key,
      '-passout',
      `file:${f('pass.txt')}`,
      '-v2',
      'aes-256-cbc',
    ]);
    expect(() => parseBundle(enc, { source: 'e.pem' })).toThrow(NeedsPassphraseError);
    expect(() => parseBundle(enc, { source: 'e.pem', passphrase: 'wrong' })).toThrow(WrongPassphraseError);
    expect(parseBundle(enc, { source: 'e.pem', passphrase: 's3cret' }).keys[0]!.format).toBe('pkcs8-encrypted');
  });

  test('PKCS#12 from openssl pkcs12 -export: certs and key, passphrase checked', () => {
    writeFileSync(f('p12pass.txt'), 'pfx-pass\n');
    const p12 = ossl([
      'pkcs12',
      '-export',
      '-in',
      m.files.fullchain,
      '-inkey',
      m.files.key,
      '-passout',
      `file:${f('p12pass.txt')}`,
    ]);
    const b = parseBundle(p12, { source: 't.p12', passphrase: 'pfx-pass' });
    expect(b.certs).toHaveLength(2);
    expect(b.keys).toHaveLength(1);
    expect(keyMatchesCert(b.keys[0]!.key, b.certs.find((c) => c.cert.subject.includes('localhost'))!.cert)).toBe(true);
    expect(() => parseBundle(p12, { source: 't.p12', passphrase: 'nope' })).toThrow(WrongPassphraseError);
    expect(() => parseBundle(p12, { source: 't.p12' })).toThrow(NeedsPassphraseError);
  });
});

describe('parse errors name the file and never echo key bytes', () => {
  test('wrong block types say what the file is', () => {
    const pub = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
    expect(() => parseBundle(Buffer.from(pub), { source: 'pub.pem' })).toThrow(/pub\.pem: contains only a public key/);
  });
  test('a damaged key block is reported without its content', async () => {
    const m = await mintChain({ intermediates: 0 });
    const keyPem = readFileSync(m.files.key, 'utf8');
    const lines = keyPem.split('\n');
    const damaged = [lines[0], lines[1]!.slice(0, 20) + 'AAAA' + lines[1]!.slice(24), ...lines.slice(2)].join('\n');
    try {
      parseBundle(Buffer.from(damaged), { source: 'k.pem' });
      throw new Error('should have failed');
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(/^k\.pem: /);
      expect((err as Error).message).not.toContain(lines[2]!.slice(0, 16));
    }
  });
  test('readBundle: missing file and directory', async () => {
    await expect(readBundle('/no/such/file.pem')).rejects.toThrow(/\/no\/such\/file\.pem: no such file/);
    await expect(readBundle('/tmp')).rejects.toThrow(/is a directory/);
  });
});

describe('more input forms made by openssl', () => {
  let dir: string;
  const f = (n: string) => path.join(dir, n);
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-parse-'));
    writeFileSync(f('pw.txt'), 'pw\n');
    ossl(['genrsa', '-out', f('rsa.pem'), '2048']);
    ossl(['ecparam', '-genkey', '-name', 'prime256v1', '-out', f('ec-with-params.pem')]);
    ossl([
      'req',
      '-x509',
      '-new',
      '-key',
      f('rsa.pem'),
      '-subj',
      '/CN=openssl.example',
      '-days',
      '2',
      '-out',
      f('cert.pem'),
    ]);
  });
  const read = (n: string, passphrase?: string) => parseBundle(readFileSync(f(n)), { source: n, passphrase });
  const certOf = () => read('cert.pem').certs[0]!.cert;

  test('SEC1 key after an EC PARAMETERS block (openssl ecparam -genkey)', () => {
    expect(readFileSync(f('ec-with-params.pem'), 'utf8')).toMatch(/BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/);
    const b = read('ec-with-params.pem');
    expect(b.keys.map((k) => [k.format, k.key.asymmetricKeyDetails?.namedCurve])).toEqual([['sec1', 'prime256v1']]);
  });

  test.each([
    ['rsa', 'rsa.pem', 'pkcs1'],
    ['ec', 'ec-with-params.pem', 'sec1'],
  ] as const)('legacy encrypted PEM (Proc-Type, %s)', (kind, src, format) => {
    // `openssl rsa` needs -traditional for the Proc-Type form; `openssl ec` writes it by default.
    ossl([
      kind,
      '-in',
      f(src),
      '-aes256',
      '-passout',
      `file:${f('pw.txt')}`,
      ...(kind === 'rsa' ? ['-traditional'] : []),
      '-out',
      f(`legacy-${kind}.pem`),
    ]);
    expect(readFileSync(f(`legacy-${kind}.pem`), 'utf8')).toMatch(/Proc-Type: 4,ENCRYPTED/);
    expect(() => read(`legacy-${kind}.pem`)).toThrow(NeedsPassphraseError);
    expect(() => read(`legacy-${kind}.pem`, 'bad')).toThrow(WrongPassphraseError);
    expect(read(`legacy-${kind}.pem`, 'pw').keys[0]!.format).toBe(format);
  });

  test('encrypted PKCS#8 in DER, and PKCS#1 in DER', () => {
    ossl([
      'pkcs8',
      '-topk8',
      '-in',
      f('rsa.pem'),
      '-outform',
      'DER',
      '-passout',
      `file:${f('pw.txt')}`,
      '-out',
      f('enc.der'),
    ]);
    expect(() => read('enc.der')).toThrow(NeedsPassphraseError);
    expect(keyMatchesCert(read('enc.der', 'pw').keys[0]!.key, certOf())).toBe(true);
    ossl(['rsa', '-in', f('rsa.pem'), '-outform', 'DER', '-traditional', '-out', f('pkcs1.der')]);
    const k = read('pkcs1.der').keys[0]!;
    expect([k.format, keyMatchesCert(k.key, certOf())]).toEqual(['pkcs1', true]);
  });

  test('PKCS#12: 3DES/SHA-1 (older exporters), certificates only, and an empty passphrase', () => {
    const base = ['pkcs12', '-export', '-in', f('cert.pem')];
    ossl([
      ...base,
      '-inkey',
      f('rsa.pem'),
      '-passout',
      `file:${f('pw.txt')}`,
      '-certpbe',
      'PBE-SHA1-3DES',
      '-keypbe',
      'PBE-SHA1-3DES',
      '-macalg',
      'sha1',
      '-out',
      f('des.p12'),
    ]);
    const des = read('des.p12', 'pw');
    expect(keyMatchesCert(des.keys[0]!.key, des.certs[0]!.cert)).toBe(true);
    ossl([...base, '-nokeys', '-passout', `file:${f('pw.txt')}`, '-out', f('nokeys.p12')]);
    expect(read('nokeys.p12', 'pw')).toMatchObject({ certs: [expect.anything()], keys: [] });
    expect(() => read('nokeys.p12')).toThrow(
      /nokeys\.p12: the PKCS#12 file is protected by a passphrase and no passphrase was given/,
    );
    ossl([...base, '-inkey', f('rsa.pem'), '-passout', 'pass:', '-out', f('empty.p12')]);
    expect(read('empty.p12').keys).toHaveLength(1);
  });

  test('TRUSTED CERTIFICATE (openssl x509 -trustout) keeps only the certificate', () => {
    ossl(['x509', '-in', f('cert.pem'), '-trustout', '-addtrust', 'serverAuth', '-out', f('trusted.pem')]);
    const c = read('trusted.pem').certs[0]!;
    expect(c.der.equals(certOf().raw)).toBe(true);
  });

  test('a version 1 certificate (no extensions) parses', () => {
    ossl(['req', '-new', '-key', f('rsa.pem'), '-subj', '/CN=v1', '-out', f('v1.csr')]);
    ossl(['x509', '-req', '-in', f('v1.csr'), '-signkey', f('rsa.pem'), '-days', '2', '-out', f('v1.pem')]);
    expect(read('v1.pem').certs[0]!.cert.subject).toBe('CN=v1');
  });

  test('a PEM file holding both certificates and a key keeps their order and indexes', () => {
    const text =
      readFileSync(f('cert.pem'), 'utf8') + readFileSync(f('rsa.pem'), 'utf8') + readFileSync(f('cert.pem'), 'utf8');
    const b = parseBundle(Buffer.from(text), { source: 'mix.pem' });
    expect(b.certs.map((c) => [c.source, c.index])).toEqual([
      ['mix.pem', 0],
      ['mix.pem', 1],
    ]);
    expect(b.keys.map((k) => [k.format, k.index])).toEqual([['pkcs8', 0]]); // openssl 3 genrsa writes PKCS#8
  });
});

describe('committed malformed inputs (test/fixtures/malformed): one line naming the file', () => {
  const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'malformed');
  test.each([
    ['empty.pem', /the file is empty/],
    ['not-a-cert.txt', /no certificate or private key found \(expected PEM, DER, PKCS#12 or PKCS#7\)/],
    ['not-a-cert.der', /neither a certificate, a private key, PKCS#12 nor PKCS#7/],
    ['truncated.pem', /"CERTIFICATE" has no END line: the file is truncated/],
    ['truncated.der', /the DER data is truncated \(200 of \d+ bytes\)/],
    ['mismatched-end.pem', /"BEGIN CERTIFICATE" ends with "END PRIVATE KEY"/],
    ['damaged-der.pem', /certificate #1 is damaged/],
    ['csr.pem', /certificate signing request \(CSR\)/],
    ['public-key.pem', /only a public key/],
  ])('%s', async (name, expected) => {
    const file = path.join(FIX, name);
    const err = await readBundle(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    expect((err as Error).message).toMatch(expected);
    expect((err as Error).message).not.toContain('\n');
  });

  test('pkcs7.pem (it used to be refused) is read: its certificate, as openssl pkcs7 -print_certs gives it', async () => {
    const file = path.join(FIX, 'pkcs7.pem');
    const b = await readBundle(file);
    const printed = execFileSync('openssl', ['pkcs7', '-in', file, '-print_certs']).toString();
    expect(b.certs.map((c) => c.cert.toString().trim())).toEqual(
      [...printed.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0]),
    );
  });

  // root reads anything, so there is nothing to assert when the tests run as root.
  (process.getuid?.() === 0 ? test.skip : test)('readBundle: an unreadable file says permission denied', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-perm-'));
    const file = path.join(dir, 'locked.pem');
    writeFileSync(file, 'x', { mode: 0o000 });
    await expect(readBundle(file)).rejects.toThrow(/locked\.pem: permission denied/);
  });
});
