import { mintChain } from '../../helpers/test-ca.js';
import { parseBundle } from '../../../src/pki/parse.js';
import { buildChain } from '../../../src/pki/chain.js';
import { issueCertificate } from '../../../src/pki/generate.js';

const bundle = (...pems: string[]) => parseBundle(Buffer.from(pems.join('junk\n')), { source: 'in.pem' });

describe('buildChain', () => {
  test.each(['rsa', 'ecdsa'] as const)(
    '%s: any order, duplicates and an unrelated cert → leaf, int2, int1, root',
    async (keyType) => {
      const m = await mintChain({ keyType, intermediates: 2 });
      const stranger = await issueCertificate({ subject: 'stranger', key: { type: 'ecdsa' } });
      const [i1, i2] = m.intermediates; // leaf-side first
      const b = bundle(m.root.certPem, i2!.certPem, m.leaf.certPem, stranger.certPem, i1!.certPem, i2!.certPem);
      const r = buildChain(b, { withRoot: true });
      expect(r.chain.map((c) => c.cert.subject)).toEqual([
        expect.stringContaining('CN=localhost'),
        expect.stringContaining('Intermediate 2'),
        expect.stringContaining('Intermediate 1'),
        expect.stringContaining('Test Root'),
      ]);
      expect(r.dropped.map((d) => d.reason).sort()).toEqual(['duplicate', 'unrelated']);
      expect(buildChain(b, { withRoot: false }).chain).toHaveLength(3);
      expect(r.missingIssuer).toBeUndefined();
    },
  );

  test('the key decides the leaf when given', async () => {
    const m = await mintChain({ intermediates: 1 });
    const other = await mintChain({ intermediates: 0 });
    const b = bundle(other.leaf.certPem, m.intermediates[0]!.certPem, m.leaf.certPem);
    const key = parseBundle(Buffer.from(m.leaf.keyPem), { source: 'k.pem' }).keys[0]!;
    expect(buildChain(b, { key }).chain[0]!.cert.subject).toBe(
      buildChain(bundle(m.leaf.certPem), {}).chain[0]!.cert.subject,
    );
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
    const impostor = await issueCertificate({
      subject: 'CN=Test Intermediate 1, O=xsoar-cert tests',
      isCA: true,
      key: { type: 'ecdsa' },
      omitSki: true,
    });
    const r = buildChain(bundle(m.leaf.certPem, impostor.certPem));
    expect(r.missingIssuer).toBeDefined();
    expect(r.dropped.map((d) => d.reason)).toEqual(['unrelated']);
  });
});

describe('buildChain: edge cases', () => {
  test('no intermediates: leaf then root; a lone self-signed cert is its own chain', async () => {
    const m = await mintChain({ intermediates: 0 });
    const r = buildChain(bundle(m.root.certPem, m.leaf.certPem), { withRoot: true });
    expect(r.chain.map((c) => c.cert.subject)).toEqual(['CN=localhost', 'CN=Test Root CA\nO=xsoar-cert tests']);
    expect(r.root?.cert.subject).toMatch(/Test Root/);
    const self = await issueCertificate({ subject: 'self', key: { type: 'ecdsa' } });
    const s = buildChain(bundle(self.certPem), { withRoot: true });
    expect([s.chain.length, s.root, s.missingIssuer]).toEqual([1, undefined, undefined]);
  });

  test('without a key, a non-CA leaf wins over a CA that also issues nothing', async () => {
    const m = await mintChain({ intermediates: 0 });
    const unrelatedCa = await issueCertificate({
      subject: 'CN=Lonely CA',
      isCA: true,
      key: { type: 'ecdsa' },
      issuer: m.root,
    });
    const r = buildChain(bundle(unrelatedCa.certPem, m.root.certPem, m.leaf.certPem));
    expect(r.chain[0]!.cert.subject).toBe('CN=localhost');
    expect(r.leafBy).toBe('issues-nothing');
    expect(r.dropped.map((d) => [d.entry.cert.subject, d.reason])).toEqual([['CN=Lonely CA', 'unrelated']]);
  });

  test('a key that matches none of the certificates is an error naming the key source', async () => {
    const m = await mintChain({ intermediates: 0 });
    const other = await issueCertificate({ subject: 'x', key: { type: 'ecdsa' } });
    const key = parseBundle(Buffer.from(other.keyPem), { source: 'other-key.pem' }).keys[0]!;
    expect(() => buildChain(bundle(m.leaf.certPem), { key })).toThrow(
      /other-key\.pem: this key matches none of the certificates given/,
    );
  });

  test('anchors finish a chain whose root was not given (system trust store case), and only for the last link', async () => {
    const m = await mintChain({ intermediates: 2 });
    const anchors = parseBundle(Buffer.from(m.root.certPem), { source: 'the system trust store' }).certs;
    const r = buildChain(bundle(m.leaf.certPem, m.intermediates[0]!.certPem, m.intermediates[1]!.certPem), {
      withRoot: true,
      anchors,
    });
    expect(r.chain.map((c) => c.source)).toEqual(['in.pem', 'in.pem', 'in.pem', 'the system trust store']);
    expect([r.rootFromAnchors, r.missingIssuer]).toEqual([true, undefined]);
    expect(
      buildChain(bundle(m.leaf.certPem, m.intermediates[0]!.certPem, m.intermediates[1]!.certPem), {
        withRoot: false,
        anchors,
      }).chain,
    ).toHaveLength(3);
    // With the middle intermediate missing, the anchor cannot bridge the gap.
    const gap = buildChain(bundle(m.leaf.certPem, m.intermediates[1]!.certPem), { anchors });
    expect(gap.missingIssuer?.subject).toBe('CN=Test Intermediate 2, O=xsoar-cert tests');
    // A root in the input is preferred and not reported as coming from the anchors.
    const given = buildChain(
      bundle(m.leaf.certPem, m.intermediates[0]!.certPem, m.intermediates[1]!.certPem, m.root.certPem),
      { withRoot: true, anchors },
    );
    expect([given.root?.source, given.rootFromAnchors]).toEqual(['in.pem', false]);
  });

  test('two intermediates with the same name and key id: the one whose signature verifies is chosen', async () => {
    const root = await issueCertificate({ subject: 'CN=R', isCA: true, key: { type: 'ecdsa' } });
    const realInt = await issueCertificate({ subject: 'CN=Int', isCA: true, key: { type: 'ecdsa' }, issuer: root });
    const leaf = await issueCertificate({ subject: 'leaf', issuer: realInt, key: { type: 'ecdsa' } });
    // Same subject, same key (so same SKI) but signed by a different root: a re-issue from elsewhere.
    const otherRoot = await issueCertificate({ subject: 'CN=R', isCA: true, key: { type: 'ecdsa' } });
    const reissued = await issueCertificate({
      subject: 'CN=Int',
      isCA: true,
      key: { keyPem: realInt.keyPem },
      issuer: otherRoot,
    });
    const r = buildChain(bundle(reissued.certPem, leaf.certPem, root.certPem, realInt.certPem), { withRoot: true });
    // Both intermediates verify the leaf (same key); the chain must end at a root that verifies its intermediate.
    const last = r.chain[r.chain.length - 1]!;
    expect(last.cert.fingerprint256).toBe(
      parseBundle(Buffer.from(root.certPem), { source: 'r' }).certs[0]!.cert.fingerprint256,
    );
    expect(r.chain[1]!.cert.verify(last.cert.publicKey)).toBe(true);
  });
});
