// Issue 16, findings 8 and 10: names and settings from flags, the environment, the settings file,
// the tenants file and the cluster's own answers never reach a kubectl argument unchecked, and
// never start a second crontab entry or an unescaped systemd specifier.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { resolveSettings } from '../../../src/ops/settings.js';
import { parseTenantsFile, resolveTargets } from '../../../src/ops/fleet.js';
import { Kubectl } from '../../../src/k8s/kubectl.js';
import { fakeApi } from '../../helpers/fake-api.js';
import { isK8sName } from '../../../src/k8s/names.js';
import { cronLine, systemdUnits, type ScheduleInput } from '../../../src/ops/schedule.js';
import { EXIT, InputError, KubectlError, UsageError, XsoarCertError } from '../../../src/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-hostile-settings-'));
const NO_ENV = {} as NodeJS.ProcessEnv;

function configFile(name: string, value: unknown): string {
  const f = path.join(dir, name);
  writeFileSync(f, JSON.stringify(value));
  return f;
}

/** A kubectl stand-in that records argv and answers each `get` with `answer`. */
const schedule = (args: string[]): ScheduleInput => ({
  node: '/usr/bin/node',
  script: '/opt/xsoar-cert/bin/xsoar-cert.js',
  args,
  logFile: '/var/log/xsoar-cert.log',
  env: {},
  minute: 1,
  hour: 2,
});

/**
 * What cron makes of one crontab line (crontab(5)): the entry ends at the newline; an unescaped
 * "%" ends the command (Debian's cron unescapes "\\" and "\%", cronie only "\%"; both are run).
 */
function cronCommand(line: string, flavour: 'debian' | 'cronie'): { entries: number; command: string; stdin: boolean } {
  const entries = line.split('\n').length;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) {
      const next = line[i + 1]!;
      if (next === '%' || (flavour === 'debian' && next === '\\')) {
        out += next;
        i++;
        continue;
      }
      out += ch + next;
      i++;
      continue;
    }
    if (ch === '%') return { entries, command: out, stdin: true };
    out += ch;
  }
  return { entries, command: out, stdin: false };
}

describe('finding 8: names become kubectl flags', () => {
  test('finding 8: a secret named "--server=..." in the settings file is exit 3 naming the file', () => {
    const f = configFile('server.json', { secret: '--server=http://127.0.0.1:9' });
    const err = (() => {
      try {
        resolveSettings({ config: f }, NO_ENV);
      } catch (e) {
        return e;
      }
    })() as XsoarCertError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(EXIT.INPUT);
    expect(err.message).toMatch(
      new RegExp(
        `^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: "--server=http://127\\.0\\.0\\.1:9" is not a valid secret name`,
      ),
    );
  });

  test('finding 8: flags and environment variables are exit 2 naming the flag or the variable', () => {
    const none = configFile('none.json', {});
    expect(() => resolveSettings({ secret: '--kubeconfig=/tmp/x', config: none }, NO_ENV)).toThrow(UsageError);
    expect(() => resolveSettings({ secret: '--kubeconfig=/tmp/x', config: none }, NO_ENV)).toThrow(/^--secret: /);
    expect(() => resolveSettings({ namespace: ['ok', '-n'], config: none }, NO_ENV)).toThrow(/^--namespace: "-n"/);
    expect(() => resolveSettings({ config: none }, { XSOAR_CERT_NAMESPACE: '-n' })).toThrow(
      /^XSOAR_CERT_NAMESPACE: "-n" is not a valid namespace name/,
    );
    expect(() => resolveSettings({ proxy: 'deployment/--server=x', config: none }, NO_ENV)).toThrow(/^--proxy: /);
    expect(() => resolveSettings({ context: '--token=x', config: none }, NO_ENV)).toThrow(/^--context: /);
  });

  test('finding 8: the tenants file holds RFC 1123 names only (63 for a namespace, no empty labels)', () => {
    expect(() => parseTenantsFile('tenant-1/a..b\n', 't.txt', 'xsoar-tls')).toThrow(
      /^t\.txt:1: "a\.\.b" is not a valid secret name/,
    );
    expect(() => parseTenantsFile(`${'a'.repeat(64)}\n`, 't.txt', 'xsoar-tls')).toThrow(InputError);
    expect(() => parseTenantsFile('ok\n--server=http://x:1\n', 't.txt', 'xsoar-tls')).toThrow(/^t\.txt:2: /);
    expect(parseTenantsFile('t-1/s.x 10.0.0.5:443\n', 't.txt', 'xsoar-tls')).toEqual([
      { namespace: 't-1', secret: 's.x', endpoint: '10.0.0.5:443' },
    ]);
  });

  test('finding 8: names become path segments only once checked; a name that is not one sends nothing', async () => {
    const f = fakeApi((r) => (r.method === 'GET' && r.path.includes('/deployments/') ? { json: done } : { json: {} }));
    const k = new Kubectl({ namespace: 'xsoar', api: f.api });
    await k.getSecret('xsoar-tls').catch(() => undefined);
    await k.deleteSecret('xsoar-tls-prev');
    await k.rolloutRestart(['xsoar-proxy']);
    await k.rolloutStatus('xsoar-proxy', 5);
    expect(f.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /api/v1/namespaces/xsoar/secrets/xsoar-tls',
      'DELETE /api/v1/namespaces/xsoar/secrets/xsoar-tls-prev',
      'PATCH /apis/apps/v1/namespaces/xsoar/deployments/xsoar-proxy?fieldManager=kubectl-rollout',
      'GET /apis/apps/v1/namespaces/xsoar/deployments/xsoar-proxy',
    ]);
    await expect(k.getSecret('--server=http://127.0.0.1:9')).rejects.toThrow(/would be read as a flag/);
    await expect(k.getSecret('../../api/v1/secrets')).rejects.toThrow(/not a valid Kubernetes name/);
    await expect(new Kubectl({ namespace: '--server=x', api: f.api }).listDeployments()).rejects.toThrow(
      /namespace name/,
    );
    expect(() => new Kubectl({ namespace: 'x', context: '--server=x', api: f.api })).toThrow(KubectlError);
    expect(f.calls).toHaveLength(4);
  });

  test("finding 8: the cluster's answers are checked before a name becomes part of a path (exit 4)", async () => {
    const evil = (name: string) => ({
      json: { items: [{ kind: 'Deployment', metadata: { name, namespace: 'xsoar' } }] },
    });
    const k = new Kubectl({ namespace: 'xsoar', api: fakeApi(() => evil('--server=http://127.0.0.1:9')).api });
    const err = await k.listDeployments().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubectlError);
    expect((err as KubectlError).exitCode).toBe(EXIT.CLUSTER);
    await expect(k.acrossNamespaces().listAll('deployments')).rejects.toThrow(/answered an object named "--server=/);
    await expect(
      new Kubectl({
        namespace: 'xsoar',
        api: fakeApi(() => ({ json: { items: [{ metadata: { name: 'Bad\x1b' } }] } })).api,
      }).listSecrets('a=b'),
    ).rejects.toThrow(KubectlError);
    const ns = fakeApi(() => ({ json: { items: [{ metadata: { name: '-n' } }] } }));
    await expect(
      resolveTargets(
        { allNamespaces: true, selector: 'a=b' },
        { namespace: 'x', secret: 's' },
        new Kubectl({ namespace: 'x', api: ns.api }),
      ),
    ).rejects.toThrow(KubectlError);
  });
});

/** A deployment whose rollout is done (what rolloutStatus reads first). */
const done = {
  metadata: { name: 'xsoar-proxy', generation: 1 },
  spec: { replicas: 1 },
  status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
};

describe('finding 10: schedules', () => {
  const owned = 'x\n* * * * * root touch /tmp/owned #';

  test('finding 10: a newline in a setting never starts a second crontab entry', () => {
    expect(() => cronLine(schedule(['--endpoint', owned]))).toThrow(UsageError);
    expect(() => systemdUnits(schedule(['--endpoint', owned]))).toThrow(UsageError);
    const f = configFile('newline.json', { endpoint: owned });
    expect(() => resolveSettings({ config: f }, NO_ENV)).toThrow(
      new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the setting "endpoint" holds a control character`),
    );
    const acme = configFile('acme-newline.json', { acme: { dnsHook: '/bin/hook\r\n* * * * * root id' } });
    expect(() => resolveSettings({ config: acme }, NO_ENV)).toThrow(
      /the setting "acme\.dnsHook" holds a control character/,
    );
    expect(() => resolveSettings({ config: configFile('e.json', {}), endpoint: 'h:443\x1b[2J' }, NO_ENV)).toThrow(
      /^--endpoint: /,
    );
    expect(() => resolveSettings({ config: configFile('e2.json', {}) }, { XSOAR_CERT_ENDPOINT: 'h:443\n' })).toThrow(
      /^XSOAR_CERT_ENDPOINT: /,
    );
  });

  test('finding 10: "%" is "%%" in systemd units (ExecStart, Environment, log paths) and "$" is "$$" in ExecStart', () => {
    const s = {
      ...schedule(['--dns-hook', '/opt/hook %n $HOME']),
      env: { KUBECONFIG: '/k/%h' },
      logFile: '/var/log/%i.log',
    };
    const { service } = systemdUnits(s);
    expect(service).toContain(
      'ExecStart=/usr/bin/node /opt/xsoar-cert/bin/xsoar-cert.js renew --dns-hook "/opt/hook %%n $$HOME"',
    );
    expect(service).toContain('Environment="KUBECONFIG=/k/%%h"');
    expect(service).toContain('StandardOutput=append:/var/log/%%i.log');
    expect(service.replace(/%%/g, '')).not.toMatch(/%/);
  });

  test('finding 10: "%" and backslashes before it leave one command under both crons, the words intact', () => {
    for (const word of ['25%', 'a\\%b', 'a\\\\%b', "it's 100%", '\\']) {
      const line = cronLine(schedule(['--dns-hook', word]));
      for (const flavour of ['debian', 'cronie'] as const) {
        const c = cronCommand(line, flavour);
        expect({ word, flavour, entries: c.entries, stdin: c.stdin }).toEqual({
          word,
          flavour,
          entries: 1,
          stdin: false,
        });
      }
      // Debian's cron hands the shell exactly the quoted word.
      expect(cronCommand(line, 'debian').command).toContain(
        word.includes("'") ? "'it'\\''s 100%'" : word.includes('\\') ? `'${word}'` : word,
      );
    }
  });
});

// ------------------------------------------------------------------ property: settings and tenants files

const NASTY = [
  '--server=http://127.0.0.1:1',
  '-n',
  '--kubeconfig=/tmp/k',
  '--context=x',
  '--token=t',
  '-',
  '--',
  'deployment/--x',
  '-A',
];
const CHARS = [
  'a',
  'z',
  '0',
  '-',
  '.',
  '/',
  '=',
  ':',
  ' ',
  '%',
  '\\',
  "'",
  '"',
  '$',
  '\n',
  '\r',
  '\t',
  '\x00',
  '\x1b',
  '\x7f',
  '\x9b',
  'é',
  'İ',
  '\u2028',
  '\u202e',
  '😀',
];
const hostile = fc.oneof(
  fc.constantFrom(...NASTY, 'xsoar', 'tenant-1', 'xsoar-tls', 'a.b', 'auto'),
  fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc
    .constantFrom(...NASTY)
    .chain((n) => fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 6 }).map((s) => n + s)),
);

/** Tenants files mix good lines with bad ones: a file is only used when every line is good. */
const mostlyValid = fc.oneof(
  { arbitrary: fc.constantFrom('xsoar', 'tenant-1', 'a.b', 't0'), weight: 4 },
  { arbitrary: hostile, weight: 1 },
);

const endpoint = fc.oneof(
  { arbitrary: fc.constantFrom('10.0.0.5:443', 'x.example:18501'), weight: 3 },
  { arbitrary: hostile, weight: 1 },
);

/** Every request path a Kubectl sends for the usual reads and writes of one target. */
async function pathsFor(ns: string, secret: string, proxy: string[], context?: string): Promise<string[]> {
  const f = fakeApi((r) => ({ json: r.path.includes('/deployments/') ? done : { items: [] } }));
  const k = new Kubectl({ namespace: ns, context, api: f.api });
  await k.getSecret(secret).catch(() => undefined);
  await k.listSecrets(`xsoar-cert.io/previous-of=${secret}`);
  await k.listDeployments();
  if (proxy.length) await k.rolloutRestart(proxy);
  return f.calls.map((c) => c.path);
}

/** Every path names one resource of one namespace, each segment a valid name; nothing else rides along. */
function expectSafePaths(paths: string[]): void {
  for (const p of paths) {
    const m = /^\/(?:api\/v1|apis\/apps\/v1)\/namespaces\/([^/?]+)\/(secrets|deployments)(?:\/([^/?]+))?(\?.*)?$/.exec(
      p,
    );
    expect(m).not.toBeNull();
    expect(isK8sName('namespace', m![1])).toBe(true);
    if (m![3] !== undefined) expect(isK8sName(m![2] === 'secrets' ? 'secret' : 'deployment', m![3])).toBe(true);
  }
}

test('property (findings 8, 10): hostile settings files never reach kubectl unchecked nor add a cron line', async () => {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.record(
        { namespace: hostile, secret: hostile, proxy: hostile, endpoint: hostile, context: hostile },
        { requiredKeys: [] },
      ),
      async (cfg) => {
        const f = configFile('prop.json', cfg);
        let s;
        try {
          s = resolveSettings({ config: f }, NO_ENV);
        } catch (err) {
          expect(err).toBeInstanceOf(InputError);
          expect((err as Error).message.startsWith(`${f}: `)).toBe(true);
          expect((err as Error).message).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
          return;
        }
        accepted++;
        expect(isK8sName('namespace', s.namespace) && isK8sName('secret', s.secret)).toBe(true);
        const proxies =
          s.proxy === 'auto'
            ? []
            : s.proxy
                .split(',')
                .map((d) => d.trim().replace(/^deployment\//, ''))
                .filter(Boolean);
        for (const p of proxies) expect(isK8sName('deployment', p)).toBe(true);
        expectSafePaths(await pathsFor(s.namespace, s.secret, proxies, s.context));
        // What renew --print-cron repeats of these settings: one crontab entry, no early end of the command.
        const args = [
          '-n',
          s.namespace,
          '--secret',
          s.secret,
          '--proxy',
          s.proxy,
          ...(s.endpoint ? ['--endpoint', s.endpoint] : []),
          ...(s.context ? ['--context', s.context] : []),
        ];
        const line = cronLine(schedule(args));
        for (const flavour of ['debian', 'cronie'] as const)
          expect(cronCommand(line, flavour)).toMatchObject({ entries: 1, stdin: false });
        expect(systemdUnits(schedule(args)).service.replace(/%%/g, '')).not.toMatch(/%/);
      },
    ),
    { numRuns: 1500, seed: 16_08_10 },
  );
  expect(accepted).toBeGreaterThan(10); // the generator also makes valid settings
});

test('property (finding 8): hostile tenants files are refused naming the file, or hold valid names only', async () => {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(mostlyValid, fc.option(mostlyValid), fc.option(endpoint)), { maxLength: 3 }),
      async (rows) => {
        const text = rows
          .map(([ns, secret, ep]) => `${ns}${secret !== null ? '/' + secret : ''}${ep !== null ? ' ' + ep : ''}`)
          .join('\n');
        let targets;
        try {
          targets = parseTenantsFile(text, 'tenants.txt', 'xsoar-tls');
        } catch (err) {
          expect(err).toBeInstanceOf(InputError);
          expect((err as Error).message).toMatch(/^tenants\.txt:\d+: /);
          expect((err as Error).message).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
          return;
        }
        accepted += targets.length;
        for (const t of targets) {
          expect(isK8sName('namespace', t.namespace) && isK8sName('secret', t.secret)).toBe(true);
          expect(t.endpoint === undefined || !/[\x00-\x1f\x7f-\x9f]/.test(t.endpoint)).toBe(true);
          expectSafePaths(await pathsFor(t.namespace, t.secret, []));
        }
      },
    ),
    { numRuns: 1500, seed: 16_08 },
  );
  expect(accepted).toBeGreaterThan(100);
});
