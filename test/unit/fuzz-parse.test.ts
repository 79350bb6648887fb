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

beforeAll(async () => {
  const m = await mintChain({ keyType: 'rsa', intermediates: 1 });
  const dir = m.dir;
  writeFileSync(path.join(dir, 'p.txt'), 'pw\n');
  const der = execFileSync('openssl', ['x509', '-outform', 'DER', '-in', m.files.leaf]);
  const kder = execFileSync('openssl', ['pkey', '-outform', 'DER', '-in', m.files.key]);
  const p12 = execFileSync('openssl', ['pkcs12', '-export', '-in', m.files.fullchain, '-inkey', m.files.key, '-passout', `file:${path.join(dir, 'p.txt')}`]);
  // An EC PFX too: its key bag takes a different path (forge leaves EC keys as raw PKCS#8).
  const e = await mintChain({ keyType: 'ecdsa', intermediates: 0, dir: path.join(dir, 'ec') });
  const ecP12 = execFileSync('openssl', ['pkcs12', '-export', '-in', e.files.leaf, '-inkey', e.files.key, '-passout', `file:${path.join(dir, 'p.txt')}`]);
  const encKey = execFileSync('openssl', ['pkcs8', '-topk8', '-in', e.files.key, '-passout', `file:${path.join(dir, 'p.txt')}`]);
  const p7b = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', m.files.bundle, '-outform', 'DER']);
  const p7bPem = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', e.files.fullchain]);
  seeds = [Buffer.from(m.leaf.certPem + m.leaf.keyPem), Buffer.from(m.intermediates[0]!.certPem), der, kder, p12, ecP12, encKey, p7b, p7bPem, Buffer.from(m.leaf.certPem + m.intermediates[0]!.certPem + m.root.certPem)];
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

function apply(base: Buffer, ops: { kind: string; at: number; bit?: number; bytes?: Uint8Array; len?: number }[]): Buffer {
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

test('10,000 mutated inputs: parse, describe, chain and verify succeed or throw an InputError naming the source', () => {
  const at = new Date();
  fc.assert(
    fc.property(mutate, fc.boolean(), ({ seed, ops }, withPass) => {
      const input = apply(seeds[seed % seeds.length]!, ops);
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
          verifyBundle({ certs: b.certs.slice(0, 1), chain: b.certs.slice(1), anchors: b.certs.slice(-1), anchorSource: 'fuzz', keys: b.keys, hosts: ['localhost'], at });
        }
      } catch (err) {
        if (!(err instanceof InputError)) throw new Error(`non-InputError ${(err as Error).name}: ${(err as Error).message}`);
        if (!(err as Error).message.startsWith('fuzz.bin: ')) throw new Error(`message does not name the file: ${(err as Error).message}`);
        if ((err as Error).message.includes('\n')) throw new Error('multi-line message');
      }
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
