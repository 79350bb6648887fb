// Older kubectl builds speak other dialects: 1.26-1.29 ask for aggregated discovery
// v2beta1, <= 1.28 probe the protobuf /openapi/v2 for fieldValidation before a write.
// The gcloud SDK ships such builds next to its dispatcher; where they exist (not on
// every machine) the sandbox must serve them the same commands.
import { existsSync, realpathSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain } from '../helpers/test-ca.js';

function findKubectl(version: string): string | undefined {
  try {
    const dispatcher = realpathSync('/usr/bin/kubectl');
    const p = path.join(path.dirname(dispatcher), `kubectl.${version}`);
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

const versions = ['1.27', '1.29'].map((v) => ({ v, bin: findKubectl(v) }));

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 0 });
});
afterAll(async () => sb?.stop());

function run(bin: string, args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const k = spawn(bin, args, { env: { ...sb.env, KUBECACHEDIR: path.join(sb.dir, `cache-${path.basename(bin)}`) } });
    let stdout = '';
    let stderr = '';
    k.stdout.on('data', (d) => (stdout += d));
    k.stderr.on('data', (d) => (stderr += d));
    k.on('error', reject);
    k.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    k.stdin.end(input);
  });
}

for (const { v, bin } of versions) {
  (bin ? test : test.skip)(
    `kubectl ${v}: apply (default validation), get, can-i, rollout restart and status`,
    async () => {
      const k = bin!;
      const t = sb.tenants[0]!;
      const name = `v${v.replace('.', '-')}`;
      const m = await mintChain();
      const dry = await run(k, [
        'create',
        'secret',
        'tls',
        name,
        '-n',
        t.namespace,
        `--cert=${m.files.leaf}`,
        `--key=${m.files.key}`,
        '--dry-run=client',
        '-o',
        'yaml',
      ]);
      expect((await run(k, ['apply', '-f', '-'], dry.stdout)).stdout).toMatch(new RegExp(`secret/${name} created`));
      expect((await run(k, ['apply', '-f', '-'], dry.stdout)).stdout).toMatch(new RegExp(`secret/${name} configured`));
      expect((await run(k, ['get', 'secrets', '-n', t.namespace])).stdout).toMatch(
        new RegExp(`\\n${name}\\s+kubernetes.io/tls\\s+2`),
      );
      expect((await run(k, ['auth', 'can-i', 'patch', 'secrets', '-n', t.namespace])).stdout.trim()).toBe('yes');
      await new Promise((r) => setTimeout(r, 1100)); // one restart per second per deployment (kubectl's own guard)
      expect((await run(k, ['rollout', 'restart', `deployment/${t.deployment}`, '-n', t.namespace])).code).toBe(0);
      expect(
        (await run(k, ['rollout', 'status', `deployment/${t.deployment}`, '-n', t.namespace, '--timeout=20s'])).stdout,
      ).toMatch(/successfully rolled out/);
    },
  );
}
