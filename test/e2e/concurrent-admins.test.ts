// Five admins (five state dirs, so no shared local lock) install at once, ten rounds: what each
// run reports stays true. Every run ends installed (0), refused/left alone (7: the secret changed
// under it, a 409 or another run's change found on re-read), or refused in preflight (4: the
// endpoint served another certificate than the secret held, mid-rollout); whatever the secret holds
// is what the endpoint serves, and it is the certificate of a run that reported it installed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
let certs: MintedChain[];
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 150 });
  certs = await Promise.all([0, 1, 2, 3, 4].map(() => mintChain({ intermediates: 0, hosts: ['localhost', '127.0.0.1'] })));
}, 120000);
afterAll(async () => sb?.stop());

test('5 concurrent installs with 5 state dirs, 10 rounds: the secret, the endpoint and the exit codes agree', async () => {
  const t = sb.tenants[0]!;
  const fp = (m: MintedChain) => new X509Certificate(m.leaf.certPem).fingerprint256;
  for (let round = 0; round < 10; round++) {
    const runs = await Promise.all(
      certs.map((m) =>
        runCli(['install', '--cert', m.files.leaf, '--key', m.files.key, '--ca', m.files.root, '--host', 'localhost', '-n', t.namespace, '--secret', t.secret, '--endpoint', t.endpoint, '--yes', '--allow-name-change', '--timeout', '30'], {
          env: { ...sb.env, XSOAR_CERT_STATE_DIR: mkdtempSync(path.join(tmpdir(), 'xsoar-cert-admin-')) },
        }),
      ),
    );
    const codes = runs.map((r) => r.code);
    // 4 only for the preflight's endpoint check: another admin's secret was written but its rollout had
    // not finished, so the endpoint served another certificate than the secret held (nothing changed).
    const refusedInPreflight = (r: { code: number; stderr: string }) => r.code === 4 && /--endpoint .* serves .*, not the certificate installed in .*Nothing was changed/s.test(r.stderr);
    for (const r of runs) expect({ round, code: r.code, err: [0, 7].includes(r.code) || refusedInPreflight(r) ? '' : r.stderr }).toEqual({ round, code: r.code, err: '' });
    const data = await sb.secretData(t.namespace, t.secret);
    const inSecret = new X509Certificate(Buffer.from(data!['tls.crt']!, 'base64')).fingerprint256;
    expect((await sb.servedCert(t.endpoint)).sha256).toBe(inSecret);
    const winners = certs.filter((_, i) => codes[i] === 0).map(fp);
    if (winners.length) expect(winners).toContain(inSecret);
    // A run that said "installed" and is not what is installed must have finished before the one that is.
  }
}, 600000);
