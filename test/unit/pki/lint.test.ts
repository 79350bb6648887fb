// lintChain: what clients refuse even when the chain validates (errors), and what an admin
// should hear about (warnings that keep exit 0).
import { issueCertificate, type CertSpec, type IssuedCert } from '../../../src/pki/generate.js';
import { parseBundle } from '../../../src/pki/parse.js';
import { lintChain, MAX_LIFETIME_DAYS, APPLE_MAX_LIFETIME_DAYS, EXPIRY_WARNING_DAYS } from '../../../src/pki/lint.js';
import type { CertEntry } from '../../../src/pki/types.js';

const entry = (c: IssuedCert, source: string): CertEntry => parseBundle(Buffer.from(c.certPem), { source }).certs[0]!;
const DAY = 86_400_000;

let ecRoot: IssuedCert;
let rsaRoot: IssuedCert;
beforeAll(async () => {
  ecRoot = await issueCertificate({ subject: 'CN=Lint Root', isCA: true, key: { type: 'ecdsa' } });
  rsaRoot = await issueCertificate({ subject: 'CN=Lint RSA Root', isCA: true, key: { type: 'rsa', bits: 2048 } });
});

async function lintLeaf(spec: Partial<CertSpec>, opts: { root?: IssuedCert; at?: Date } = {}) {
  const root = opts.root ?? ecRoot;
  const leaf = entry(
    await issueCertificate({
      subject: 'l.example.com',
      dnsNames: ['l.example.com'],
      issuer: root,
      key: { type: 'ecdsa' },
      days: 90,
      ...spec,
    }),
    'leaf.pem',
  );
  return lintChain({ leaf, path: [leaf, entry(root, 'root.pem')], at: opts.at ?? new Date() });
}
const ids = (checks: { id: string; status: string }[], status: string) =>
  checks.filter((c) => c.status === status).map((c) => c.id);

test('a good 90-day ECDSA leaf has nothing to say', async () => {
  expect(await lintLeaf({})).toEqual([]);
});

test.each([
  ['RSA 1024', { key: { type: 'rsa' as const, bits: 1024 } }, 'lint.rsa-size', /1024-bit RSA key/],
  ['SHA-1 signature', { signatureHash: 'SHA-1' as const }, 'lint.signature-hash', /signed with SHA-1/],
  [
    'EKU without serverAuth',
    { eku: ['clientAuth'] },
    'lint.server-auth',
    /extended key usage clientAuth without serverAuth/,
  ],
  ['anyExtendedKeyUsage alone', { eku: ['2.5.29.37.0'] }, 'lint.server-auth', /without serverAuth/],
  ['a CA as the leaf', { isCA: true }, 'lint.leaf-ca', /is a CA certificate \(CA:TRUE\)/],
])('error: %s', async (_name, spec, id, msg) => {
  const root = 'signatureHash' in spec ? rsaRoot : ecRoot; // SHA-1 signatures need an RSA issuer here
  const checks = await lintLeaf(spec as Partial<CertSpec>, { root });
  expect(ids(checks, 'fail')).toEqual([id]);
  const c = checks.find((x) => x.id === id)!;
  expect(c.message).toMatch(msg);
  // One line that names the file and the cert, and says what to do.
  expect(c.message).toMatch(/^leaf\.pem: "l\.example\.com" \(serial [0-9A-F]+/);
  expect(c.message).not.toContain('\n');
  expect(c).toMatchObject({ file: 'leaf.pem', subject: 'CN=l.example.com' });
});

test('RSA 2048 is enough, and a leaf without any EKU is accepted', async () => {
  expect(await lintLeaf({ key: { type: 'rsa', bits: 2048 }, eku: null })).toEqual([]);
});

test('SHA-1 on the trust anchor self-signature is ignored; on an intermediate it is an error', async () => {
  const sha1Root = await issueCertificate({
    subject: 'CN=Old Root',
    isCA: true,
    key: { type: 'rsa', bits: 2048 },
    signatureHash: 'SHA-1',
  });
  const int = await issueCertificate({
    subject: 'CN=Old Int',
    isCA: true,
    issuer: sha1Root,
    key: { type: 'rsa', bits: 2048 },
    signatureHash: 'SHA-1',
  });
  const leaf = await issueCertificate({
    subject: 'l.example.com',
    dnsNames: ['l.example.com'],
    issuer: int,
    key: { type: 'ecdsa' },
    days: 90,
  });
  const path = [entry(leaf, 'leaf.pem'), entry(int, 'chain.pem'), entry(sha1Root, 'root.pem')];
  const checks = lintChain({ leaf: path[0]!, path, at: new Date() });
  expect(checks.filter((c) => c.id === 'lint.signature-hash').map((c) => c.file)).toEqual(['chain.pem']);
});

test(`lifetime: over ${MAX_LIFETIME_DAYS} days warns under a public root only; over ${APPLE_MAX_LIFETIME_DAYS} fails under any root`, async () => {
  const lint = async (days: number, publicRoot: boolean) => {
    const root = ecRoot;
    const leaf = entry(
      await issueCertificate({
        subject: 'l.example.com',
        dnsNames: ['l.example.com'],
        issuer: root,
        key: { type: 'ecdsa' },
        days,
      }),
      'leaf.pem',
    );
    let asked = 0;
    const checks = lintChain({
      leaf,
      path: [leaf, entry(root, 'root.pem')],
      at: new Date(),
      publicRoot: () => (asked++, publicRoot),
    });
    return {
      states: checks.filter((c) => c.id === 'lint.lifetime').map((c) => c.status),
      asked,
      message: checks.find((c) => c.id === 'lint.lifetime')?.message ?? '',
    };
  };
  // At the limit nothing is said, and the trust store is not even asked.
  expect(await lint(MAX_LIFETIME_DAYS, true)).toMatchObject({ states: [], asked: 0 });
  expect(await lint(MAX_LIFETIME_DAYS + 1, true)).toMatchObject({
    states: ['warn'],
    message: expect.stringMatching(/publicly trusted root; browsers refuse/),
  });
  expect(await lint(MAX_LIFETIME_DAYS + 1, false)).toMatchObject({
    states: ['info'],
    message: expect.stringMatching(/fine for a private CA/),
  });
  expect(await lint(APPLE_MAX_LIFETIME_DAYS, false)).toMatchObject({ states: ['info'] });
  const apple = await lint(APPLE_MAX_LIFETIME_DAYS + 1, false);
  expect(apple).toMatchObject({ states: ['fail'], message: expect.stringMatching(/Apple clients .* refuse/) });
});

test(`expiry within ${EXPIRY_WARNING_DAYS} days is a warning, measured from --at`, async () => {
  // Whole seconds: certificate times have no milliseconds.
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * DAY);
  const spec = { notBefore, days: 60 };
  const notAfter = notBefore.getTime() + 60 * DAY;
  expect(ids(await lintLeaf(spec, { at: new Date(notAfter - (EXPIRY_WARNING_DAYS + 1) * DAY) }), 'warn')).toEqual([]);
  const soon = await lintLeaf(spec, { at: new Date(notAfter - 5 * DAY) });
  expect(ids(soon, 'warn')).toEqual(['lint.expiry-soon']);
  expect(soon[0]!.message).toMatch(/expires in 5 days/);
  // Already expired is the validity check's business, not a warning.
  expect(ids(await lintLeaf(spec, { at: new Date(notAfter + DAY) }), 'warn')).toEqual([]);
});

test('a root in the served chain is a warning naming it', async () => {
  const leaf = entry(
    await issueCertificate({
      subject: 'l.example.com',
      dnsNames: ['l.example.com'],
      issuer: ecRoot,
      key: { type: 'ecdsa' },
      days: 90,
    }),
    'bundle.pem',
  );
  const root = entry(ecRoot, 'bundle.pem');
  const checks = lintChain({ leaf, path: [leaf, root], at: new Date(), rootInServedChain: root });
  expect(checks.map((c) => `${c.id}:${c.status}`)).toEqual(['lint.root-in-chain:warn']);
  expect(checks[0]!.message).toMatch(/"Lint Root" .* is a root in the served chain/);
});
