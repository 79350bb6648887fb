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
  test('keeps ordinary text', () => {
    expect(redact('secret "xsoar-tls" not found in namespace "tenant1"')).toBe('secret "xsoar-tls" not found in namespace "tenant1"');
  });
});
