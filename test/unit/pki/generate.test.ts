// Every CertSpec knob, read back by an independent decoder (openssl x509 -text) or Node.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { issueCertificate, generateDevCA, generateDevLeaf, splitHosts } from '../../../src/pki/generate.js';
import { mintChain } from '../../helpers/test-ca.js';
import { issueMd5Certificate } from '../../helpers/md5-resign.js';

const text = (pem: string) => execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
const ec = { type: 'ecdsa' as const };

describe('issueCertificate', () => {
  test('leaf defaults: CA:FALSE (critical), serverAuth, digitalSignature, SKI, random 16-byte positive serial', async () => {
    const a = await issueCertificate({ subject: 'a.test', dnsNames: ['a.test'], key: ec });
    const t = text(a.certPem);
    expect(t).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(t).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(t).toMatch(/X509v3 Subject Key Identifier/);
    const serials = await Promise.all(
      [0, 1, 2].map(
        async () => new X509Certificate((await issueCertificate({ subject: 's', key: ec })).certPem).serialNumber,
      ),
    );
    for (const s of serials) {
      expect(s).toMatch(/^[0-7][0-9A-F]{31}$/); // 16 bytes, top bit clear
    }
    expect(new Set(serials).size).toBe(3);
  });

  test('RSA leaves also get keyEncipherment; CA defaults are keyCertSign + cRLSign with no EKU', async () => {
    const leaf = await issueCertificate({ subject: 'r', key: { type: 'rsa', bits: 1024 } });
    expect(text(leaf.certPem)).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(new X509Certificate(leaf.certPem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(1024);
    const ca = text((await issueCertificate({ subject: 'ca', isCA: true, pathLen: 2, key: ec })).certPem);
    expect(ca).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:2/);
    expect(ca).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(ca).not.toMatch(/Extended Key Usage/);
  });

  test('null omits key usage and EKU; OIDs and names mix; omitSki/omitAki drop the identifiers', async () => {
    const root = await issueCertificate({ subject: 'root', isCA: true, key: ec });
    const c = await issueCertificate({
      subject: 'x',
      keyUsage: null,
      eku: ['clientAuth', '1.2.3.4.5'],
      omitSki: true,
      omitAki: true,
      issuer: root,
      key: ec,
    });
    const t = text(c.certPem);
    expect(t).not.toMatch(/X509v3 Key Usage/);
    expect(t).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication, 1\.2\.3\.4\.5/);
    expect(t).not.toMatch(/Key Identifier/);
    expect(text((await issueCertificate({ subject: 'y', eku: null, key: ec })).certPem)).not.toMatch(
      /Extended Key Usage/,
    );
  });

  test('AKI is the issuer SKI; the signature verifies with the issuer key; the issuer DN is copied', async () => {
    const root = await issueCertificate({
      subject: 'CN=Root X, O=Org, C=DE',
      isCA: true,
      key: { type: 'ecdsa', curve: 'P-384' },
    });
    const leaf = await issueCertificate({ subject: 'leaf', issuer: root, signatureHash: 'SHA-384', key: ec });
    const r = new X509Certificate(root.certPem);
    const l = new X509Certificate(leaf.certPem);
    expect(l.issuer).toBe(r.subject);
    expect(r.subject).toBe('CN=Root X\nO=Org\nC=DE');
    expect(l.verify(r.publicKey)).toBe(true);
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text(root.certPem))![1];
    expect(text(leaf.certPem)).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`));
    expect(text(leaf.certPem)).toMatch(/Signature Algorithm: ecdsa-with-SHA384/);
    expect(r.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });

  test('explicit validity, serial, and a reused key', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2031-02-03T04:05:06Z');
    const first = await issueCertificate({ subject: 'k', key: ec });
    const c = await issueCertificate({
      subject: 'k',
      notBefore,
      notAfter,
      serial: '0a0b0c',
      key: { keyPem: first.keyPem },
    });
    const x = new X509Certificate(c.certPem);
    expect([new Date(x.validFrom).toISOString(), new Date(x.validTo).toISOString()]).toEqual([
      notBefore.toISOString(),
      notAfter.toISOString(),
    ]);
    expect(x.serialNumber).toBe('0A0B0C');
    expect(x.checkPrivateKey(createPrivateKey(first.keyPem))).toBe(true);
    const days = await issueCertificate({ subject: 'd', notBefore, days: 10, key: ec });
    expect(new Date(new X509Certificate(days.certPem).validTo).getTime() - notBefore.getTime()).toBe(10 * 86_400_000);
  });

  test('MD5 (RSA issuer only) and SHA-1 signatures for the lint tests', async () => {
    const ca = await issueCertificate({ subject: 'rsa ca', isCA: true, key: { type: 'rsa', bits: 1024 } });
    const md5 = await issueMd5Certificate({ subject: 'md5', issuer: ca, key: ec });
    expect(text(md5.certPem).match(/Signature Algorithm: \S+/g)).toEqual([
      'Signature Algorithm: md5WithRSAEncryption',
      'Signature Algorithm: md5WithRSAEncryption',
    ]);
    expect(new X509Certificate(md5.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    const sha1 = await issueCertificate({ subject: 'sha1', issuer: ca, signatureHash: 'SHA-1', key: ec });
    expect(text(sha1.certPem)).toMatch(/Signature Algorithm: sha1WithRSAEncryption/);
    const ecCa = await issueCertificate({ subject: 'ec ca', isCA: true, key: ec });
    await expect(issueMd5Certificate({ subject: 'no', issuer: ecCa, key: ec })).rejects.toThrow(/only defined for RSA/);
  });

  test('name constraints: DNS and IPv4/IPv6 CIDR, permitted and excluded, critical', async () => {
    const t = text(
      (
        await issueCertificate({
          subject: 'nc',
          isCA: true,
          key: ec,
          nameConstraints: {
            permittedDNS: ['.corp.example'],
            excludedDNS: ['bad.corp.example'],
            permittedIP: ['fd00::/8'],
            excludedIP: ['192.168.0.0/16'],
          },
        })
      ).certPem,
    );
    expect(t).toMatch(/X509v3 Name Constraints: critical/);
    expect(t).toMatch(/Permitted:\s+DNS:\.corp\.example\s+IP:FD00:0:0:0:0:0:0:0\/FF00:0:0:0:0:0:0:0/);
    expect(t).toMatch(/Excluded:\s+DNS:bad\.corp\.example\s+IP:192\.168\.0\.0\/255\.255\.0\.0/);
  });

  test('an unknown key usage name is refused', async () => {
    await expect(issueCertificate({ subject: 'x', keyUsage: ['signEverything'], key: ec })).rejects.toThrow(
      /unknown key usage "signEverything"/,
    );
  });
});

describe('dev CA and leaf (the generate command)', () => {
  test('splitHosts: IPs (incl. bracketed IPv6) go to IP SANs, names are lower-cased DNS SANs', () => {
    expect(splitHosts(['XSOAR.Example.com', '10.0.0.5', '[::1]', 'fe80::2', '*.apps.example'])).toEqual({
      dnsNames: ['xsoar.example.com', '*.apps.example'],
      ipAddresses: ['10.0.0.5', '::1', 'fe80::2'],
    });
  });

  test('generateDevCA: 10 years, CA pathLen 0, keyCertSign/cRLSign; generateDevLeaf: 397 days, RSA 2048, signed by it', async () => {
    const ca = await generateDevCA({ keyType: 'ecdsa' });
    const c = new X509Certificate(ca.certPem);
    const caDays = (new Date(c.validTo).getTime() - new Date(c.validFrom).getTime()) / 86_400_000;
    expect(caDays).toBe(3650);
    expect(text(ca.certPem)).toMatch(/CA:TRUE, pathlen:0[\s\S]*Certificate Sign, CRL Sign/);
    const leaf = await generateDevLeaf({ hosts: ['dev.test', '127.0.0.1'], issuer: ca });
    const l = new X509Certificate(leaf.certPem);
    expect((new Date(l.validTo).getTime() - new Date(l.validFrom).getTime()) / 86_400_000).toBe(397);
    expect(l.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(l.subjectAltName).toBe('DNS:dev.test, IP Address:127.0.0.1');
    expect(l.verify(c.publicKey)).toBe(true);
    await expect(generateDevLeaf({ hosts: [] })).rejects.toThrow(/at least one host/);
  });
});

describe('mintChain (test/helpers/test-ca.ts)', () => {
  test('writes every file, in leaf-to-root order, key 0600; 0 intermediates gives an empty chain.pem', async () => {
    const m = await mintChain({ intermediates: 2, hosts: ['m.test'] });
    const pems = (f: string) =>
      readFileSync(f, 'utf8')
        .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!
        .map((p) => new X509Certificate(p));
    const order = pems(m.files.bundle);
    expect(order).toHaveLength(4);
    for (let i = 0; i < 3; i++) expect(order[i]!.verify(order[i + 1]!.publicKey)).toBe(true);
    expect(pems(m.files.fullchain).map((c) => c.fingerprint256)).toEqual(
      order.slice(0, 3).map((c) => c.fingerprint256),
    );
    expect(pems(m.files.chain).map((c) => c.fingerprint256)).toEqual(order.slice(1, 3).map((c) => c.fingerprint256));
    expect(m.files.intermediates.map((f) => pems(f)[0]!.fingerprint256)).toEqual(
      order.slice(1, 3).map((c) => c.fingerprint256),
    );
    expect(statSync(m.files.key).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(m.leaf.certPem).checkPrivateKey(createPrivateKey(readFileSync(m.files.key)))).toBe(true);
    const flat = await mintChain({ intermediates: 0, leaf: { eku: null } });
    expect(readFileSync(flat.files.chain, 'utf8')).toBe('');
    expect(new X509Certificate(flat.leaf.certPem).verify(new X509Certificate(flat.root.certPem).publicKey)).toBe(true);
    expect(text(flat.leaf.certPem)).not.toMatch(/Extended Key Usage/);
  });
});
