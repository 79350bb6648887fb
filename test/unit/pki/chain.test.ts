import { mintChain } from '../../helpers/test-ca.js';
import { parseBundle } from '../../../src/pki/parse.js';
import { buildChain } from '../../../src/pki/chain.js';
import { issueCertificate } from '../../../src/pki/generate.js';

const bundle = (...pems: string[]) => parseBundle(Buffer.from(pems.join('junk\n')), { source: 'in.pem' });

describe('buildChain', () => {
  test.each(['rsa', 'ecdsa'] as const)('%s: any order, duplicates and an unrelated cert → leaf, int2, int1, root', async (keyType) => {
    const m = await mintChain({ keyType, intermediates: 2 });
    const stranger = await issueCertificate({ subject: 'stranger', key: { type: 'ecdsa' } });
    const [i1, i2] = m.intermediates; // leaf-side first
    const b = bundle(m.root.certPem, i2!.certPem, m.leaf.certPem, stranger.certPem, i1!.certPem, i2!.certPem);
    const r = buildChain(b, { withRoot: true });
    expect(r.chain.map((c) => c.cert.subject)).toEqual([
      expect.stringContaining('CN=localhost'), expect.stringContaining('Intermediate 2'), expect.stringContaining('Intermediate 1'), expect.stringContaining('Test Root'),
    ]);
    expect(r.dropped.map((d) => d.reason).sort()).toEqual(['duplicate', 'unrelated']);
    expect(buildChain(b, { withRoot: false }).chain).toHaveLength(3);
    expect(r.missingIssuer).toBeUndefined();
  });

  test('the key decides the leaf when given', async () => {
    const m = await mintChain({ intermediates: 1 });
    const other = await mintChain({ intermediates: 0 });
    const b = bundle(other.leaf.certPem, m.intermediates[0]!.certPem, m.leaf.certPem);
    const key = parseBundle(Buffer.from(m.leaf.keyPem), { source: 'k.pem' }).keys[0]!;
    expect(buildChain(b, { key }).chain[0]!.cert.subject).toBe(buildChain(bundle(m.leaf.certPem), {}).chain[0]!.cert.subject);
    expect(buildChain(b, { key }).chain).toHaveLength(2);
  });

  test('a missing link names the issuer subject and AKI', async () => {
    const m = await mintChain({ intermediates: 2 });
    const r = buildChain(bundle(m.leaf.certPem, m.intermediates[1]!.certPem));
    expect(r.missingIssuer?.subject).toMatch(/Intermediate 2/);
    expect(r.missingIssuer?.aki).toMatch(/^[0-9A-F]{40}$/);
  });

  test('a same-name impostor CA is not taken as the issuer (signature decides)', async () => {
    const m = await mintChain({ intermediates: 1 });
    const impostor = await issueCertificate({ subject: 'CN=Test Intermediate 1, O=xsoar-cert tests', isCA: true, key: { type: 'ecdsa' }, omitSki: true });
    const r = buildChain(bundle(m.leaf.certPem, impostor.certPem));
    expect(r.missingIssuer).toBeDefined();
    expect(r.dropped.map((d) => d.reason)).toEqual(['unrelated']);
  });
});
