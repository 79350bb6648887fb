import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { mintChain } from '../helpers/test-ca.js';
import { issueCertificate } from '../../src/pki/generate.js';

describe('issueCertificate + mintChain', () => {
  test.each(['rsa', 'ecdsa'] as const)(
    '%s: a 2-intermediate chain that openssl verifies for the host',
    async (keyType) => {
      const m = await mintChain({ keyType, intermediates: 2, hosts: ['tenant.example.com', '10.1.2.3'] });
      const out = execFileSync(
        'openssl',
        [
          'verify',
          '-CAfile',
          m.files.root,
          '-untrusted',
          m.files.chain,
          '-verify_hostname',
          'tenant.example.com',
          '-purpose',
          'sslserver',
          m.files.leaf,
        ],
        { encoding: 'utf8' },
      );
      expect(out).toMatch(/OK/);
      const leaf = new X509Certificate(m.leaf.certPem);
      expect(leaf.subjectAltName).toBe('DNS:tenant.example.com, IP Address:10.1.2.3');
      expect(leaf.ca).toBe(false);
      expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
      expect(leaf.checkIssued(new X509Certificate(m.intermediates[0]!.certPem))).toBe(true);
      expect(statSync(m.files.key).mode & 0o777).toBe(0o600);
    },
  );

  test('a wrong root makes openssl fail, so the previous test can fail', async () => {
    const a = await mintChain({ intermediates: 1 });
    const b = await mintChain({ intermediates: 1 });
    expect(() =>
      execFileSync('openssl', ['verify', '-CAfile', b.files.root, '-untrusted', a.files.chain, a.files.leaf], {
        stdio: 'pipe',
      }),
    ).toThrow();
  });

  test('name constraints and SHA-1 are encoded as asked', async () => {
    const ca = await issueCertificate({
      subject: 'NC CA',
      isCA: true,
      nameConstraints: { permittedDNS: ['example.com'], excludedIP: ['10.0.0.0/8'] },
      key: { type: 'ecdsa' },
    });
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: ca.certPem, encoding: 'utf8' });
    expect(text).toMatch(/Permitted:\s+DNS:example\.com/);
    expect(text).toMatch(/Excluded:\s+IP:10\.0\.0\.0\/255\.0\.0\.0/);
    const sha1 = await issueCertificate({ subject: 'old', signatureHash: 'SHA-1', key: { type: 'rsa', bits: 2048 } });
    expect(execFileSync('openssl', ['x509', '-noout', '-text'], { input: sha1.certPem, encoding: 'utf8' })).toMatch(
      /sha1WithRSAEncryption/,
    );
  });
});
