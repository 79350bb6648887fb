// The kubectl wrapper with the process boundary injected (the only place execa is stubbed):
// what argv and stdin each call gets, and how kubectl's failures become one-line errors.
import { Kubectl, childEnv, cleanLine, execaRun, type Run, type RunResult } from '../../../src/k8s/kubectl.js';
import { parseCanIList } from '../../../src/k8s/auth.js';
import { BusyError, KubectlError, EXIT } from '../../../src/errors.js';

function fake(answer: (args: string[], input?: string) => Partial<RunResult>) {
  const calls: { args: string[]; input?: string }[] = [];
  const run: Run = async (_bin, args, opts) => {
    calls.push({ args, input: opts.input });
    return { exitCode: 0, stdout: '', stderr: '', ...answer(args, opts.input) };
  };
  return { calls, run };
}
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
const secret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's', namespace: 'ns1' },
  data: { 'tls.key': Buffer.from(KEY).toString('base64') },
};

test('a manifest travels on stdin only; argv pins context and namespace and never holds key bytes', async () => {
  const f = fake(() => ({ stdout: JSON.stringify(secret) }));
  const k = new Kubectl({ namespace: 'ns1', context: 'prod', run: f.run });
  await k.replace(secret);
  expect(f.calls[0]!.args).toEqual([
    '--context',
    'prod',
    '--namespace',
    'ns1',
    'replace',
    '-f',
    '-',
    '-o',
    'json',
    '--validate=false',
  ]);
  expect(f.calls[0]!.input).toContain(secret.data['tls.key']);
  expect(f.calls[0]!.args.join(' ')).not.toContain(secret.data['tls.key'].slice(0, 20));
});

test('acrossNamespaces drops the namespace pin (manifests name their own) and keeps the context', async () => {
  const f = fake(() => ({ stdout: '{"items":[]}' }));
  await new Kubectl({ namespace: 'ns1', context: 'prod', run: f.run })
    .acrossNamespaces()
    .listAll('secrets', ['--field-selector', 'type=kubernetes.io/tls']);
  expect(f.calls[0]!.args).toEqual([
    '--context',
    'prod',
    'get',
    'secrets',
    '--all-namespaces',
    '--field-selector',
    'type=kubernetes.io/tls',
    '-o',
    'json',
  ]);
});

test('each(): one process for a List; results attributed per item, failures in input order get their own error line', async () => {
  const f = fake(() => ({
    exitCode: 1,
    stdout: 'ns1\ts\t11\nns3\ts\t13\n',
    stderr: 'Error from server (Conflict): error when replacing "STDIN": the object has been modified\n',
  }));
  const items = ['ns1', 'ns2', 'ns3'].map((ns) => ({ ...secret, metadata: { name: 's', namespace: ns } }));
  const r = await new Kubectl({ namespace: 'x', run: f.run })
    .acrossNamespaces()
    .each('replace', items, ['{.metadata.resourceVersion}']);
  expect(f.calls).toHaveLength(1);
  expect(JSON.parse(f.calls[0]!.input!).items).toHaveLength(3);
  expect(r).toEqual([
    { ok: true, fields: ['11'] },
    { ok: false, error: expect.stringMatching(/Conflict/) },
    { ok: true, fields: ['13'] },
  ]);
});

test('accessReviews: one answer per check; an API that cannot answer counts as allowed (the writes are still refused cleanly)', async () => {
  const checks = [
    { verb: 'update', group: '', resource: 'secrets', namespace: 'a' },
    { verb: 'update', group: 'apps', resource: 'deployments', namespace: 'a' },
  ];
  const ok = fake(() => ({ stdout: 'true\nfalse\n' }));
  expect(await new Kubectl({ namespace: 'x', run: ok.run }).accessReviews(checks)).toEqual([true, false]);
  const broken = fake(() => ({ exitCode: 1, stderr: 'error: the server does not allow this method' }));
  expect(await new Kubectl({ namespace: 'x', run: broken.run }).accessReviews(checks)).toEqual([true, true]);
});

test('failures map to one line and the documented exit codes, key material redacted', async () => {
  const k = (stderr: string) => new Kubectl({ namespace: 'ns1', run: fake(() => ({ exitCode: 1, stderr })).run });
  await expect(
    k('Error from server (Conflict): Operation cannot be fulfilled on secrets "s"').replace(secret),
  ).rejects.toBeInstanceOf(BusyError);
  const forbidden = await k('Error from server (Forbidden): secrets "s" is forbidden: User "viewer" cannot update')
    .replace(secret)
    .catch((e) => e);
  expect(forbidden).toBeInstanceOf(KubectlError);
  expect(forbidden.exitCode).toBe(EXIT.CLUSTER);
  expect(forbidden.message).toMatch(/^permission denied in namespace "ns1": secrets "s" is forbidden/);
  const down = await k(
    'E1129 08:07:57.072471   17047 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: Get \\"http://localhost:8080/api\\": dial tcp 127.0.0.1:8080: connect: connection refused"',
  )
    .getSecret('s')
    .catch((e) => e);
  expect(down.message).toBe(
    'cannot reach the cluster for namespace "ns1": couldn\'t get current server API group list: Get "http://localhost:8080/api": dial tcp 127.0.0.1:8080: connect: connection refused',
  );
  // kubectl's other wording for a refused connection (auth can-i, for one) is the same error.
  const refused = await k(
    'The connection to the server 127.0.0.1:36327 was refused - did you specify the right host or port?',
  )
    .permissions()
    .catch((e) => e);
  expect(refused.message).toBe(
    'cannot reach the cluster for namespace "ns1": The connection to the server 127.0.0.1:36327 was refused - did you specify the right host or port?',
  );
  const leaky = await k(`error: cannot parse ${KEY}`)
    .replace(secret)
    .catch((e) => e);
  expect(leaky.message).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
});

test('kubectl missing is named with what to do', async () => {
  const run: Run = async () => ({ exitCode: 127, stdout: '', stderr: '', spawnError: 'ENOENT' });
  const e = await new Kubectl({ namespace: 'n', run, bin: 'kubectl' }).getSecret('s').catch((x) => x);
  expect(e.message).toMatch(/kubectl not found/);
  expect(e.hint).toMatch(/apt install kubernetes-client|XSOAR_CERT_KUBECTL/);
});

test('cleanLine keeps lines that are not klog lines as they are', () => {
  expect(cleanLine('error: no context exists with the name: "x"')).toBe('error: no context exists with the name: "x"');
});

test('parseCanIList reads the --list table, with resource names and wildcards', () => {
  const p = parseCanIList(
    'Resources                                       Non-Resource URLs   Resource Names   Verbs\n' +
      'secrets                                         []                  [xsoar-tls]      [get update]\n' +
      'secrets                                         []                  []               [create]\n' +
      'deployments.apps                                []                  []               [get list patch watch]\n',
  );
  expect(p.can('update', 'secrets', 'xsoar-tls')).toBe(true);
  expect(p.can('update', 'secrets', 'other')).toBe(false);
  expect(p.can('create', 'secrets')).toBe(true);
  expect(p.can('patch', 'deployments.apps')).toBe(true);
  expect(p.can('delete', 'deployments.apps')).toBe(false);
});

test('rolloutFields: one jsonpath table across namespaces, parsed into what rolloutState reads', async () => {
  const f = fake(() => ({
    stdout:
      'tenant-1\txsoar-proxy\t4\t1\t4\t1\t1\t1\tNewReplicaSetAvailable\ntenant-2\txsoar-proxy\t7\t\t6\t2\t1\t\t\n',
  }));
  const rows = await new Kubectl({ namespace: 'x', run: f.run }).acrossNamespaces().rolloutFields();
  expect(f.calls[0]!.args.slice(0, 3)).toEqual(['get', 'deployments', '--all-namespaces']);
  expect(f.calls[0]!.args[4]).toMatch(/^jsonpath=\{range \.items\[\*\]\}/);
  expect(rows).toEqual([
    {
      metadata: { namespace: 'tenant-1', name: 'xsoar-proxy', generation: 4 },
      spec: { replicas: 1 },
      status: {
        observedGeneration: 4,
        replicas: 1,
        updatedReplicas: 1,
        availableReplicas: 1,
        conditions: [{ type: 'Progressing', status: '', reason: 'NewReplicaSetAvailable' }],
      },
    },
    {
      metadata: { namespace: 'tenant-2', name: 'xsoar-proxy', generation: 7 },
      spec: { replicas: undefined },
      status: { observedGeneration: 6, replicas: 2, updatedReplicas: 1, availableReplicas: 0, conditions: [] },
    },
  ]);
});

test('a kubectl child never sees XSOAR_CERT_* (the passphrase, an EAB key) but keeps KUBECONFIG, PATH and HOME', async () => {
  const env = {
    XSOAR_CERT_PASSPHRASE: 'hunter2',
    XSOAR_CERT_ACME_EAB_HMAC: 'k',
    KUBECONFIG: '/k',
    PATH: '/bin',
    HOME: '/h',
  };
  expect(childEnv(env)).toEqual({ KUBECONFIG: '/k', PATH: '/bin', HOME: '/h', KUBECTL_COMMAND_HEADERS: 'false' });
  // Through the real process boundary: `env` stands in for kubectl and prints what it was given.
  process.env.XSOAR_CERT_PASSPHRASE = 'hunter2-in-process';
  try {
    const r = await execaRun('env', [], {});
    expect(r.stdout).not.toContain('hunter2-in-process');
    expect(r.stdout).toMatch(/^KUBECTL_COMMAND_HEADERS=false$/m);
    expect(r.stdout).toMatch(/^PATH=/m);
  } finally {
    delete process.env.XSOAR_CERT_PASSPHRASE;
  }
});
