// certFacts decodes with node-forge's ASN.1 reader; these certificates are encoded by
// @peculiar/x509 (generate.ts) or by the openssl CLI, so the two sides are independent.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { issueCertificate } from '../../../src/pki/generate.js';
import { issueMd5Certificate } from '../../helpers/md5-resign.js';
import {
  certFacts,
  certLabel,
  describeCert,
  fingerprint256,
  keyDescription,
  keyMatchesCert,
  oneLineName,
} from '../../../src/pki/describe.js';

const ec = { type: 'ecdsa' as const };
const x = (pem: string) => new X509Certificate(pem);

describe('certFacts', () => {
  test('a CA with name constraints, and a leaf with every SAN form it issues', async () => {
    const ca = await issueCertificate({
      subject: 'CN=NC CA',
      isCA: true,
      pathLen: 1,
      key: ec,
      nameConstraints: {
        permittedDNS: ['example.com'],
        excludedDNS: ['no.example.com'],
        permittedIP: ['10.0.0.0/8', '2001:db8::/32'],
        excludedIP: ['10.9.0.0/16'],
      },
    });
    const f = certFacts(x(ca.certPem));
    expect(f.version).toBe(3);
    expect(f.basicConstraints).toEqual({ ca: true, pathLen: 1, critical: true });
    expect(f.keyUsage).toEqual(['keyCertSign', 'cRLSign']);
    expect(f.eku).toBeUndefined();
    expect(f.nameConstraints).toEqual({
      permittedDNS: ['example.com'],
      excludedDNS: ['no.example.com'],
      permittedIP: ['10.0.0.0/8', '2001:db8::/32'],
      excludedIP: ['10.9.0.0/16'],
      otherForms: [],
    });
    expect(f.unknownCritical).toEqual([]);

    const leaf = await issueCertificate({
      subject: 'CN=a.example.com',
      dnsNames: ['a.example.com', '*.b.example.com'],
      ipAddresses: ['10.1.2.3', '2001:db8::1', '::'],
      issuer: ca,
      eku: ['serverAuth', '1.2.3.4'],
      key: { type: 'rsa', bits: 1024 },
    });
    const lf = certFacts(x(leaf.certPem));
    expect(lf.san).toEqual({
      dns: ['a.example.com', '*.b.example.com'],
      ip: ['10.1.2.3', '2001:db8::1', '::'],
      email: [],
      uri: [],
      other: 0,
    });
    expect(lf.basicConstraints).toEqual({ ca: false, pathLen: undefined, critical: true });
    expect(lf.keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    expect(lf.eku).toEqual(['serverAuth', '1.2.3.4']);
    expect(lf.aki).toBe(f.ski);
    expect(lf.ski).toMatch(/^[0-9A-F]{40}$/);
    expect(lf.subjectCN).toEqual(['a.example.com']);
    expect([lf.signatureAlgorithm, lf.signatureHash]).toEqual(['ecdsa-with-SHA256', 'SHA-256']);
  });

  test('SKI and AKI agree with openssl', async () => {
    const root = await issueCertificate({ subject: 'r', isCA: true, key: ec });
    const leaf = await issueCertificate({ subject: 'l', issuer: root, key: ec });
    const t = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf.certPem, encoding: 'utf8' });
    const hex = (s: string) => s.replace(/keyid:|:/g, '');
    expect(certFacts(x(leaf.certPem)).ski).toBe(hex(/Subject Key Identifier:\s+(\S+)/.exec(t)![1]!));
    expect(certFacts(x(leaf.certPem)).aki).toBe(hex(/Authority Key Identifier:\s+(\S+)/.exec(t)![1]!));
  });

  test.each([
    ['SHA-1', 'rsa', 'sha1WithRSAEncryption', 'SHA-1'],
    ['MD5', 'rsa', 'md5WithRSAEncryption', 'MD5'],
    ['SHA-384', 'rsa', 'sha384WithRSAEncryption', 'SHA-384'],
    ['SHA-384', 'ecdsa', 'ecdsa-with-SHA384', 'SHA-384'],
  ] as const)('signature %s by an %s issuer → %s', async (hash, type, name, h) => {
    const ca = await issueCertificate({
      subject: 'ca',
      isCA: true,
      key: type === 'rsa' ? { type, bits: 1024 } : { type },
    });
    const leaf =
      hash === 'MD5'
        ? await issueMd5Certificate({ subject: 's', issuer: ca, key: ec })
        : await issueCertificate({ subject: 's', issuer: ca, signatureHash: hash, key: ec });
    const f = certFacts(x(leaf.certPem));
    expect([f.signatureAlgorithm, f.signatureHash]).toEqual([name, h]);
  });

  test('openssl-made: an unknown critical extension is listed; a v1 certificate has no extensions', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-describe-'));
    const key = path.join(dir, 'k.pem');
    execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', key]);
    const crit = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-key',
        key,
        '-subj',
        '/CN=crit',
        '-days',
        '2',
        '-addext',
        '1.2.3.4=critical,DER:05:00',
        '-addext',
        '1.2.3.5=DER:05:00',
      ],
      { encoding: 'utf8' },
    );
    const f = certFacts(x(crit));
    expect(f.unknownCritical).toEqual(['1.2.3.4']);
    expect(f.extensions).toEqual(
      expect.arrayContaining([
        { oid: '1.2.3.4', critical: true },
        { oid: '1.2.3.5', critical: false },
      ]),
    );
    writeFileSync(path.join(dir, 'csr'), execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=v1']));
    const v1 = execFileSync('openssl', ['x509', '-req', '-in', path.join(dir, 'csr'), '-signkey', key, '-days', '2'], {
      encoding: 'utf8',
    });
    const f1 = certFacts(x(v1));
    expect([f1.version, f1.extensions, f1.basicConstraints, f1.san.dns]).toEqual([1, [], undefined, []]);
  });
});

describe('describeCert and key helpers', () => {
  test('CertInfo: names, days left at a given time, serial, fingerprint, self-signed', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const c = await issueCertificate({
      subject: 'CN=d.example, O=Org',
      dnsNames: ['d.example'],
      ipAddresses: ['192.0.2.1'],
      notBefore,
      days: 100,
      serial: '01ff',
      key: { type: 'ecdsa', curve: 'P-384' },
    });
    const info = describeCert(x(c.certPem), new Date('2030-01-11T12:00:00Z'));
    expect(info).toMatchObject({
      subject: 'CN=d.example, O=Org',
      issuer: 'CN=d.example, O=Org',
      serial: '01FF',
      daysLeft: 89,
      notBefore: '2030-01-01T00:00:00.000Z',
      notAfter: '2030-04-11T00:00:00.000Z',
      dnsNames: ['d.example'],
      ipAddresses: ['192.0.2.1'],
      keyType: 'ecdsa',
      keyBits: 384,
      curve: 'P-384',
      eku: ['serverAuth'],
      isCA: false,
      selfSigned: true,
      sha256: x(c.certPem).fingerprint256,
    });
    expect(describeCert(x(c.certPem), new Date('2030-05-01T00:00:00Z')).daysLeft).toBeLessThan(0);
  });

  test('a certificate signed by another key is not self-signed even with subject = issuer', async () => {
    const a = await issueCertificate({ subject: 'same', isCA: true, key: ec });
    const b = await issueCertificate({ subject: 'same', issuer: a, key: ec });
    expect(describeCert(x(b.certPem)).selfSigned).toBe(false);
    expect(describeCert(x(a.certPem)).selfSigned).toBe(true);
  });

  test('fingerprint256 matches openssl', async () => {
    const c = await issueCertificate({ subject: 'fp', key: ec });
    const o = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], {
      input: c.certPem,
      encoding: 'utf8',
    });
    expect(o.trim().split('=')[1]).toBe(fingerprint256(x(c.certPem).raw));
  });

  test('keyMatchesCert compares the public key; keyDescription names type, size, curve', async () => {
    const c = await issueCertificate({ subject: 'k', key: ec });
    const other = await issueCertificate({ subject: 'k', key: ec });
    const key = createPrivateKey(c.keyPem);
    expect(keyMatchesCert(key, x(c.certPem))).toBe(true);
    expect(keyMatchesCert(createPublicKey(key), x(c.certPem))).toBe(true);
    expect(keyMatchesCert(key, x(other.certPem))).toBe(false);
    expect(keyDescription(key)).toEqual({ keyType: 'ecdsa', keyBits: 256, curve: 'P-256' });
    expect(keyDescription(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)).toEqual({
      keyType: 'rsa',
      keyBits: 1024,
    });
    expect(keyDescription(generateKeyPairSync('ed25519').privateKey)).toEqual({ keyType: 'ed25519' });
  });

  test('oneLineName and certLabel', async () => {
    expect(oneLineName('CN=a\nO=b\n')).toBe('CN=a, O=b');
    const c = await issueCertificate({ subject: 'CN=label.example, O=Org', serial: '0123456789abcdef0123', key: ec });
    expect(certLabel(x(c.certPem))).toBe('"label.example" (serial 0123456789ABCDEF0123)');
    // Sequential serials (openssl ca) differ only at the end: the labels must differ too.
    const d = await issueCertificate({ subject: 'CN=label.example, O=Org', serial: '0123456789abcdef0124', key: ec });
    expect(certLabel(x(d.certPem))).not.toBe(certLabel(x(c.certPem)));
  });
});
