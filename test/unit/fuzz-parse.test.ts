// Property test: ten thousand mutated PEM, DER, PKCS#12 and PKCS#7 inputs never make the parser,
// describeCert or the path builder (chain and verify) throw anything but an InputError (so the
// CLI prints one line and exits 3), and never hang.
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { mintChain } from '../helpers/test-ca.js';
import { parseBundle } from '../../src/pki/parse.js';
import { InputError } from '../../src/errors.js';
import { describeCert } from '../../src/pki/describe.js';
import { buildChain, ChainError } from '../../src/pki/chain.js';
import { verifyBundle } from '../../src/pki/verify.js';
import { runCli } from '../helpers/run-cli.js';

let seeds: Buffer[] = [];
/** PKCS#7 SignedData in DER: openssl's p7b of a bundle and of one leaf, and a hand-made minimal one. */
let p7Seeds: Buffer[] = [];

beforeAll(async () => {
  const m = await mintChain({ keyType: 'rsa', intermediates: 1 });
  const dir = m.dir;
  writeFileSync(path.join(dir, 'p.txt'), 'pw\n');
  const der = execFileSync('openssl', ['x509', '-outform', 'DER', '-in', m.files.leaf]);
  const kder = execFileSync('openssl', ['pkey', '-outform', 'DER', '-in', m.files.key]);
  const p12 = execFileSync('openssl', [
    'pkcs12',
    '-export',
    '-in',
    m.files.fullchain,
    '-inkey',
    m.files.key,
    '-passout',
    `file:${path.join(dir, 'p.txt')}`,
  ]);
  // An EC PFX too: its key bag takes a different path (forge leaves EC keys as raw PKCS#8).
  const e = await mintChain({ keyType: 'ecdsa', intermediates: 0, dir: path.join(dir, 'ec') });
  const ecP12 = execFileSync('openssl', [
    'pkcs12',
    '-export',
    '-in',
    e.files.leaf,
    '-inkey',
    e.files.key,
    '-passout',
    `file:${path.join(dir, 'p.txt')}`,
  ]);
  const encKey = execFileSync('openssl', [
    'pkcs8',
    '-topk8',
    '-in',
    e.files.key,
    '-passout',
    `file:${path.join(dir, 'p.txt')}`,
  ]);
  const p7b = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', m.files.bundle, '-outform', 'DER']);
  const p7bPem = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', e.files.fullchain]);
  const p7one = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', e.files.leaf, '-outform', 'DER']);
  // ContentInfo { signedData, [0] { SEQUENCE { INTEGER 1, SET {}, SEQUENCE { data }, [0] { } , SET {} } } }
  const minimal = Buffer.from('302506092a864886f70d010702a01830160201013100300b06092a864886f70d010701a0003100', 'hex');
  p7Seeds = [p7b, p7one, minimal];
  seeds = [
    Buffer.from(m.leaf.certPem + m.leaf.keyPem),
    Buffer.from(m.intermediates[0]!.certPem),
    der,
    kder,
    p12,
    ecP12,
    encKey,
    p7b,
    p7bPem,
    Buffer.from(m.leaf.certPem + m.intermediates[0]!.certPem + m.root.certPem),
  ];
});

const mutate = fc.record({
  seed: fc.nat(),
  ops: fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
    ),
    { minLength: 1, maxLength: 4 },
  ),
});

function apply(
  base: Buffer,
  ops: { kind: string; at: number; bit?: number; bytes?: Uint8Array; len?: number }[],
): Buffer {
  let b = Buffer.from(base);
  for (const op of ops) {
    const at = b.length ? op.at % b.length : 0;
    if (op.kind === 'flip' && b.length) b[at] = b[at]! ^ (1 << op.bit!);
    else if (op.kind === 'truncate') b = b.subarray(0, at);
    else if (op.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(op.bytes!), b.subarray(at)]);
    else if (op.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + op.len!)]);
  }
  return b;
}

/** Parse, describe, build and verify one input: success, or an InputError naming the source on one line. */
function checkOne(input: Buffer, withPass: boolean, at: Date): void {
  try {
    const b = parseBundle(input, { source: 'fuzz.bin', passphrase: withPass ? 'pw' : undefined });
    // What parses must also describe and build: a damaged certificate is caught at parse time.
    for (const c of b.certs) describeCert(c, at);
    if (b.certs.length) {
      try {
        buildChain(b, { key: b.keys[0], withRoot: true, anchors: b.certs.slice(-1), at });
      } catch (err) {
        if (!(err instanceof ChainError)) throw err; // "this key matches none of the certificates"
      }
      verifyBundle({
        certs: b.certs.slice(0, 1),
        chain: b.certs.slice(1),
        anchors: b.certs.slice(-1),
        anchorSource: 'fuzz',
        keys: b.keys,
        hosts: ['localhost'],
        at,
      });
    }
  } catch (err) {
    if (!(err instanceof InputError))
      throw new Error(`non-InputError ${(err as Error).name}: ${(err as Error).message}`);
    if (!(err as Error).message.startsWith('fuzz.bin: '))
      throw new Error(`message does not name the file: ${(err as Error).message}`);
    if ((err as Error).message.includes('\n')) throw new Error('multi-line message');
  }
}

test('10,000 mutated inputs: parse, describe, chain and verify succeed or throw an InputError naming the source', () => {
  const at = new Date();
  fc.assert(
    fc.property(mutate, fc.boolean(), ({ seed, ops }, withPass) => {
      checkOne(apply(seeds[seed % seeds.length]!, ops), withPass, at);
    }),
    { numRuns: 10_000, seed: 20261202 },
  );
});

test('50 mutated files through the built CLI: exit 0 or 3, one line, no stack trace', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-fuzz-'));
  const samples = fc.sample(mutate, { numRuns: 50, seed: 7 });
  for (const [i, { seed, ops }] of samples.entries()) {
    const f = path.join(dir, `in${i}`);
    writeFileSync(f, apply(seeds[seed % seeds.length]!, ops));
    const r = await runCli(['inspect', f], { env: { XSOAR_CERT_PASSPHRASE: 'pw' } });
    expect([0, 3]).toContain(r.code);
    if (r.code === 3) {
      expect(r.stderr).toMatch(new RegExp(`^xsoar-cert: ${f}: `));
      expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    }
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
});

// ---------------------------------------------------------------- finding 15: PKCS#7

/** The three ways a .p7b arrives: DER, "BEGIN PKCS7" PEM, and AD CS's certnew.p7b "Base 64" download. */
const P7_FORMS = ['der', 'pem', 'adcs', 'adcs-bare'] as const;
type P7Form = (typeof P7_FORMS)[number];

function wrapP7(der: Buffer, form: P7Form): Buffer {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\r\n');
  if (form === 'der') return der;
  if (form === 'pem') return Buffer.from(`-----BEGIN PKCS7-----\n${b64}\n-----END PKCS7-----\n`);
  // AD CS armours the SignedData as "BEGIN CERTIFICATE", CRLF line ends; parse.ts tells it by its OID.
  if (form === 'adcs') return Buffer.from(`-----BEGIN CERTIFICATE-----\r\n${b64}\r\n-----END CERTIFICATE-----\r\n`);
  return Buffer.from(b64 + '\r\n'); // base64 with no header at all
}

/** Mutations aimed at the ASN.1 structure: flips near the start (tags and lengths of ContentInfo). */
const p7Mutation = fc.record({
  seed: fc.nat(),
  form: fc.constantFrom(...P7_FORMS),
  head: fc.array(fc.record({ at: fc.integer({ min: 0, max: 63 }), bit: fc.integer({ min: 0, max: 7 }) }), {
    maxLength: 3,
  }),
  ops: mutate.map((m) => m.ops),
  textOps: fc.option(
    mutate.map((m) => m.ops),
    { freq: 5 },
  ),
});

test('finding 15: a PKCS#7 whose OID is a constructed node is an InputError naming the file, not a TypeError', () => {
  // ContentInfo { [UNIVERSAL 6, constructed] { OCTET STRING 00 }, [0] { SEQUENCE {} } }
  const der = Buffer.from('30092603040100a0023000', 'hex');
  for (const form of P7_FORMS) expect(() => parseBundle(wrapP7(der, form), { source: 'x.p7b' })).toThrow(InputError);
  expect(() => parseBundle(wrapP7(der, 'pem'), { source: 'x.p7b' })).toThrow(
    /^x\.p7b: (the PKCS#7 \(\.p7b\) data is damaged|a PKCS#7 message that is not a certificate bundle)/,
  );
});

test('finding 15: 12,000 mutated PKCS#7 inputs (DER, PEM, AD CS): 0 internal errors, 0 hangs', () => {
  const at = new Date();
  let slowest = 0;
  let n = 0;
  const started = Date.now();
  fc.assert(
    fc.property(p7Mutation, ({ seed, form, head, ops, textOps }) => {
      let der: Buffer = Buffer.from(p7Seeds[seed % p7Seeds.length]!);
      for (const h of head) if (h.at < der.length) der[h.at] = der[h.at]! ^ (1 << h.bit);
      der = apply(der, ops);
      let input = wrapP7(der, form);
      if (textOps && form !== 'der') input = apply(input, textOps);
      const t0 = performance.now();
      checkOne(input, false, at);
      slowest = Math.max(slowest, performance.now() - t0);
      n++;
    }),
    { numRuns: 12_000, seed: 20260916 },
  );
  expect(n).toBe(12_000);
  // A hang shows as one input taking far longer than the rest (each is a few KB at most).
  expect(slowest).toBeLessThan(2000);
  expect(Date.now() - started).toBeLessThan(30_000);
});
