// Our verdict against `openssl verify` on the same files, where OpenSSL has an opinion.
import { spawnSync } from 'node:child_process';
import { isIP } from 'node:net';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';

function opensslOk(m: MintedChain, opts: { root?: string; chain?: boolean; host?: string; at?: Date }): boolean {
  const args = ['verify', '-CAfile', opts.root ?? m.files.root, '-purpose', 'sslserver'];
  if (opts.chain !== false) args.push('-untrusted', m.files.chain);
  if (opts.host) args.push(isIP(opts.host) ? '-verify_ip' : '-verify_hostname', opts.host);
  if (opts.at) args.push('-attime', String(Math.floor(opts.at.getTime() / 1000)));
  args.push(m.files.leaf);
  return spawnSync('openssl', args, { encoding: 'utf8' }).status === 0;
}

async function oursOk(m: MintedChain, opts: { root?: string; chain?: boolean; host?: string; at?: Date }): Promise<boolean> {
  const args = ['verify', '--cert', m.files.leaf, '--ca', opts.root ?? m.files.root, '--no-tls'];
  if (opts.chain !== false) args.push('--chain', m.files.chain);
  if (opts.host) args.push('--host', opts.host);
  if (opts.at) args.push('--at', opts.at.toISOString());
  const r = await runCli(args);
  expect([0, 1]).toContain(r.code);
  return r.code === 0;
}

test('same verdicts as openssl verify for good, expired, wrong root, missing intermediate, host mismatch, not-yet-valid', async () => {
  const m = await mintChain({ keyType: 'rsa', intermediates: 2, hosts: ['tenant.example.com', '192.0.2.7'] });
  const other = await mintChain({ keyType: 'ecdsa', intermediates: 0 });
  const cases = [
    { name: 'good', opts: { host: 'tenant.example.com' }, expect: true },
    { name: 'good IP', opts: { host: '192.0.2.7' }, expect: true },
    { name: 'expired', opts: { at: new Date(Date.now() + 200 * 86400_000) }, expect: false },
    { name: 'not yet valid', opts: { at: new Date(Date.now() - 2 * 86400_000) }, expect: false },
    { name: 'wrong root', opts: { root: other.files.root }, expect: false },
    { name: 'missing intermediate', opts: { chain: false }, expect: false },
    { name: 'host mismatch', opts: { host: 'other.example.com' }, expect: false },
  ];
  for (const c of cases) {
    const theirs = opensslOk(m, c.opts);
    const ours = await oursOk(m, c.opts);
    expect({ case: c.name, openssl: theirs }).toEqual({ case: c.name, openssl: c.expect });
    expect({ case: c.name, ours }).toEqual({ case: c.name, ours: theirs });
  }
});
