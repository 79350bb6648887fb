import { generateKeyPairSync } from 'node:crypto';
import { redact } from '../../src/cli/output.js';

describe('redact', () => {
  test('removes a PEM private key block wherever it appears in text', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const body = pem.split('\n')[1];
    const out = redact(`failed to parse ${pem} in file k.pem`);
    expect(out).not.toContain(body);
    expect(out).toContain('[REDACTED PRIVATE KEY]');
    expect(out).toContain('in file k.pem');
  });
  test('removes long base64 runs such as a tls.key value', () => {
    const b64 = Buffer.alloc(600, 7).toString('base64');
    expect(redact(`{"tls.key":"${b64}"}`)).not.toContain(b64.slice(0, 40));
  });
  test('keeps base64 of PEM certificates (a tls.crt is public), but not of a certificate with a key appended', async () => {
    const { issueCertificate } = await import('../../src/pki/generate.js');
    const c = await issueCertificate({ subject: 'crt.example', key: { type: 'ecdsa' } });
    const crt = Buffer.from(c.certPem + c.certPem).toString('base64');
    expect(redact(`{"tls.crt":"${crt}"}`)).toBe(`{"tls.crt":"${crt}"}`);
    const mixed = Buffer.from(c.certPem + c.keyPem).toString('base64');
    expect(redact(`{"tls.crt":"${mixed}"}`)).toBe('{"tls.crt":"[REDACTED base64]"}');
    const keyFirst = Buffer.from(c.keyPem).toString('base64');
    expect(redact(`{"x":"${keyFirst}"}`)).toBe('{"x":"[REDACTED base64]"}');
  });
  test('keeps ordinary text', () => {
    expect(redact('secret "xsoar-tls" not found in namespace "tenant1"')).toBe(
      'secret "xsoar-tls" not found in namespace "tenant1"',
    );
  });
});
