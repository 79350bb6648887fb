// Every input form, made with the openssl CLI at test time (an independent producer).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mintChain, type MintedChain } from '../../helpers/test-ca.js';
import { parseBundle, readBundle, NeedsPassphraseError, WrongPassphraseError } from '../../../src/pki/parse.js';
import { keyMatchesCert } from '../../../src/pki/describe.js';
import { InputError } from '../../../src/errors.js';

const ossl = (args: string[], input?: string) => execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

describe.each(['rsa', 'ecdsa'] as const)('parseBundle with %s material', (keyType) => {
  let m: MintedChain;
  const f = (n: string) => path.join(m.dir, n);
  beforeAll(async () => {
    m = await mintChain({ keyType, intermediates: 1 });
  });

  test('PEM with text around blocks, CRLF line ends and a BOM', () => {
    const text = '\ufeffBag Attributes\r\n' + m.leaf.certPem.replace(/\n/g, '\r\n') + 'junk between\r\n' + m.intermediates[0]!.certPem.replace(/\n/g, '\r\n');
    const b = parseBundle(Buffer.from(text, 'utf8'), { source: 'x.pem' });
    expect(b.certs.map((c) => c.cert.subject)).toEqual([expect.stringContaining('localhost'), expect.stringContaining('Intermediate 1')]);
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
    const enc = ossl(['pkcs8', '-topk8', '-in', m.files.key, '-passout', `file:${f('pass.txt')}`, '-v2', 'aes-256-cbc']);
    expect(() => parseBundle(enc, { source: 'e.pem' })).toThrow(NeedsPassphraseError);
    expect(() => parseBundle(enc, { source: 'e.pem', passphrase: 'wrong' })).toThrow(WrongPassphraseError);
    expect(parseBundle(enc, { source: 'e.pem', passphrase: 's3cret' }).keys[0]!.format).toBe('pkcs8-encrypted');
  });

  test('PKCS#12 from openssl pkcs12 -export: certs and key, passphrase checked', () => {
    writeFileSync(f('p12pass.txt'), 'pfx-pass\n');
    const p12 = ossl(['pkcs12', '-export', '-in', m.files.fullchain, '-inkey', m.files.key, '-passout', `file:${f('p12pass.txt')}`]);
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
