// The cluster boundary with the API injected (test/helpers/fake-api.ts): which REST request each
// call sends, that key material travels in bodies only, and how the API's answers become one-line
// errors with the documented exit codes.
import { Kubectl, childEnv } from '../../../src/k8s/kubectl.js';
import { rulesPermissions } from '../../../src/k8s/auth.js';
import { TransportError } from '../../../src/k8s/rest.js';
import { BusyError, KubectlError, EXIT } from '../../../src/errors.js';
import { fakeApi, status } from '../../helpers/fake-api.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
const secret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's', namespace: 'ns1', resourceVersion: '7' },
  data: { 'tls.key': Buffer.from(KEY).toString('base64') },
};

test('a replace is a PUT of the named secret in its namespace, the manifest in the body', async () => {
  const f = fakeApi(() => ({ json: secret }));
  const k = new Kubectl({ namespace: 'ns1', context: 'prod', api: f.api });
  await k.replace(secret);
  expect(f.calls).toEqual([{ method: 'PUT', path: '/api/v1/namespaces/ns1/secrets/s', body: secret }]);
});

test('acrossNamespaces drops the namespace from the path; selectors go in the query', async () => {
  const f = fakeApi();
  await new Kubectl({ namespace: 'ns1', api: f.api })
    .acrossNamespaces()
    .listAll('secrets', { fieldSelector: 'type=kubernetes.io/tls', labelSelector: '!xsoar-cert.io/previous-of' });
  expect(f.calls[0]!.path).toBe(
    '/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Ftls&labelSelector=%21xsoar-cert.io%2Fprevious-of',
  );
});

test('getSecret: 404 NotFound is "not there"; a missing namespace is an error', async () => {
  const gone = fakeApi(() => status(404, 'NotFound', 'secrets "s" not found', { name: 's', kind: 'secrets' }));
  expect(await new Kubectl({ namespace: 'ns1', api: gone.api }).getSecret('s')).toEqual({ found: false });
  const noNs = fakeApi(() =>
    status(404, 'NotFound', 'namespaces "ns1" not found', { name: 'ns1', kind: 'namespaces' }),
  );
  await expect(new Kubectl({ namespace: 'ns1', api: noNs.api }).getSecret('s')).rejects.toThrow(
    /namespaces "ns1" not found/,
  );
  const found = fakeApi(() => ({ json: { metadata: { name: 's', namespace: 'ns1' } } }));
  const got = await new Kubectl({ namespace: 'ns1', api: found.api }).getSecret('s');
  // Objects get their apiVersion and kind back, as kubectl fills them in.
  expect(got).toEqual({
    found: true,
    object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns1' } },
  });
});

test('each(): one request per item, answered per item in input order; a 404 on delete is done', async () => {
  const f = fakeApi((r) =>
    r.path.includes('/ns2/')
      ? status(409, 'Conflict', 'Operation cannot be fulfilled on secrets "s": the object has been modified')
      : { json: { metadata: { resourceVersion: r.path.includes('/ns1/') ? '11' : '13' } } },
  );
  const items = ['ns1', 'ns2', 'ns3'].map((ns) => ({ ...secret, metadata: { name: 's', namespace: ns } }));
  const r = await new Kubectl({ namespace: 'x', api: f.api })
    .acrossNamespaces()
    .each('replace', items, ['{.metadata.resourceVersion}']);
  expect(f.calls.map((c) => `${c.method} ${c.path}`).sort()).toEqual([
    'PUT /api/v1/namespaces/ns1/secrets/s',
    'PUT /api/v1/namespaces/ns2/secrets/s',
    'PUT /api/v1/namespaces/ns3/secrets/s',
  ]);
  expect(r).toEqual([
    { ok: true, fields: ['11'] },
    { ok: false, error: expect.stringMatching(/^Error from server \(Conflict\): /) },
    { ok: true, fields: ['13'] },
  ]);
  const del = fakeApi(() => status(404, 'NotFound', 'secrets "s" not found'));
  expect(await new Kubectl({ namespace: 'x', api: del.api }).each('delete', items.slice(0, 1))).toEqual([
    { ok: true, fields: [] },
  ]);
  const dropped = fakeApi(() => new TransportError('socket hang up', 'ECONNRESET'));
  const [d] = await new Kubectl({ namespace: 'x', api: dropped.api }).each('create', items.slice(0, 1));
  expect(d).toEqual({ ok: false, error: expect.stringMatching(/connection reset/) });
});

test('accessReviews: one review per check, answered per check; an API that cannot answer counts as allowed', async () => {
  const checks = ['a', 'b'].flatMap((namespace) => [
    { verb: 'update', group: '', resource: 'secrets', namespace },
    { verb: 'update', group: 'apps', resource: 'deployments', namespace },
  ]);
  type Attrs = { resource: string; namespace: string };
  const ok = fakeApi((r) => {
    const a = (r.body as { spec: { resourceAttributes: Attrs } }).spec.resourceAttributes;
    return { status: 201, json: { status: { allowed: a.resource === 'secrets' || a.namespace === 'b' } } };
  });
  expect(await new Kubectl({ namespace: 'x', api: ok.api }).accessReviews(checks)).toEqual([true, false, true, true]);
  expect(ok.calls).toHaveLength(4);
  expect(ok.calls.every((c) => c.path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).toBe(true);
  const broken = fakeApi(() => status(405, 'MethodNotAllowed', 'the server does not allow this method'));
  expect(await new Kubectl({ namespace: 'x', api: broken.api }).accessReviews(checks)).toEqual(checks.map(() => true));
});

test('accessByRules: one rules review per namespace; an incomplete one is asked check by check', async () => {
  const checks = ['a', 'b', 'c'].flatMap((namespace) => [
    { verb: 'create', group: '', resource: 'secrets', namespace },
    { verb: 'update', group: 'apps', resource: 'deployments', namespace },
  ]);
  const f = fakeApi((r) => {
    const body = r.body as { spec: { namespace?: string; resourceAttributes?: { resource: string } } };
    if (r.path.endsWith('selfsubjectaccessreviews'))
      return { status: 201, json: { status: { allowed: body.spec.resourceAttributes!.resource === 'secrets' } } };
    const ns = body.spec.namespace;
    const rules = [{ verbs: ['create'], apiGroups: [''], resources: ['secrets'] }];
    if (ns === 'a') rules.push({ verbs: ['update'], apiGroups: ['apps'], resources: ['deployments'] });
    return { status: 201, json: { status: { resourceRules: rules, incomplete: ns === 'c' } } };
  });
  const got = await new Kubectl({ namespace: 'x', api: f.api }).acrossNamespaces().accessByRules(checks);
  expect(got).toEqual([true, true, true, false, true, false]);
  const kinds = f.calls.map((c) => c.path.split('/').pop());
  expect(kinds.filter((k) => k === 'selfsubjectrulesreviews')).toHaveLength(3);
  expect(kinds.filter((k) => k === 'selfsubjectaccessreviews')).toHaveLength(2); // namespace c only
});

test("failures map to kubectl's line and the documented exit codes, key material redacted", async () => {
  const k = (a: ReturnType<typeof status> | Error) => new Kubectl({ namespace: 'ns1', api: fakeApi(() => a).api });
  await expect(
    k(status(409, 'Conflict', 'Operation cannot be fulfilled on secrets "s"')).replace(secret),
  ).rejects.toBeInstanceOf(BusyError);
  const forbidden = await k(status(403, 'Forbidden', 'secrets "s" is forbidden: User "viewer" cannot update'))
    .replace(secret)
    .catch((e) => e);
  expect(forbidden).toBeInstanceOf(KubectlError);
  expect(forbidden.exitCode).toBe(EXIT.CLUSTER);
  expect(forbidden.message).toMatch(/^permission denied in namespace "ns1": secrets "s" is forbidden/);
  // The proxy's own answer when the API server is down.
  const down = await k({ status: 502, text: 'dial tcp 127.0.0.1:8080: connect: connection refused\n' })
    .getSecret('s')
    .catch((e) => e);
  expect(down.message).toMatch(/^cannot reach the cluster for namespace "ns1": .*connection refused/);
  expect(down.reason).toBe('Unreachable');
  const dropped = await k(new TransportError('socket hang up', 'ECONNRESET'))
    .getSecret('s')
    .catch((e) => e);
  expect([dropped.reason, dropped.exitCode]).toEqual(['Unreachable', EXIT.CLUSTER]);
  const slow = await k(new TransportError('timed out after 2 s', 'ETIMEDOUT'))
    .getSecret('s')
    .catch((e) => e);
  expect([slow.reason, slow.message]).toEqual(['Timeout', 'kubectl get timed out for namespace "ns1"']);
  const leaky = await k(status(400, 'BadRequest', `cannot parse ${KEY}`))
    .replace(secret)
    .catch((e) => e);
  expect(leaky.message).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
});

test('kubectl missing is named with what to do (exit 4), before anything is sent', async () => {
  const e = await new Kubectl({ namespace: 'n', bin: '/nonexistent/kubectl' }).getSecret('s').catch((x) => x);
  expect(e).toBeInstanceOf(KubectlError);
  expect(e.message).toMatch(/kubectl not found/);
  expect(e.hint).toMatch(/apt install kubernetes-client|XSOAR_CERT_KUBECTL/);
});

test('rulesPermissions reads a SelfSubjectRulesReview: resource names, groups and wildcards', () => {
  const p = rulesPermissions([
    { verbs: ['get', 'update'], apiGroups: [''], resources: ['secrets'], resourceNames: ['xsoar-tls'] },
    { verbs: ['create'], apiGroups: [''], resources: ['secrets'] },
    { verbs: ['get', 'list', 'patch', 'watch'], apiGroups: ['apps'], resources: ['deployments'] },
    { verbs: ['*'], apiGroups: ['batch'], resources: ['*'] },
  ]);
  expect(p.can('update', 'secrets', 'xsoar-tls')).toBe(true);
  expect(p.can('update', 'secrets', 'other')).toBe(false);
  expect(p.can('create', 'secrets')).toBe(true);
  expect(p.can('patch', 'deployments.apps')).toBe(true);
  expect(p.can('patch', 'deployments')).toBe(false);
  expect(p.can('delete', 'deployments.apps')).toBe(false);
  expect(p.can('delete', 'jobs.batch')).toBe(true);
});

test('rolloutStatus: reads, then watches from that version until the rollout is done', async () => {
  const d = (gen: number, obs: number, updated: number, available = updated) => ({
    metadata: { name: 'p', namespace: 'x', generation: gen, resourceVersion: String(10 + obs) },
    spec: { replicas: 1 },
    status: { observedGeneration: obs, replicas: 1, updatedReplicas: updated, availableReplicas: available },
  });
  const f = fakeApi(
    () => ({ json: d(2, 1, 1) }),
    [
      { type: 'MODIFIED', object: d(2, 2, 0, 0) },
      { type: 'MODIFIED', object: d(2, 2, 1) },
    ],
  );
  const lines: string[] = [];
  await new Kubectl({ namespace: 'x', api: f.api }).rolloutStatus('p', 5, (l) => lines.push(l));
  expect(f.calls[0]).toMatchObject({ method: 'GET', path: '/apis/apps/v1/namespaces/x/deployments/p' });
  expect(f.calls[1]!.path).toMatch(
    /^\/apis\/apps\/v1\/namespaces\/x\/deployments\?fieldSelector=metadata\.name%3Dp&resourceVersion=11&timeoutSeconds=\d+&watch=true$/,
  );
  expect(lines).toEqual([
    'Waiting for deployment spec update to be observed...',
    'Waiting for deployment "p" rollout to finish: 0 out of 1 new replicas have been updated...',
    'deployment "p" successfully rolled out',
  ]);
  const stuck = fakeApi(() => ({
    json: {
      ...d(2, 2, 0),
      status: {
        observedGeneration: 2,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
    },
  }));
  const e = await new Kubectl({ namespace: 'x', api: stuck.api }).rolloutStatus('p', 5).catch((x) => x);
  expect([e.reason, e.message]).toEqual(['RolloutFailed', expect.stringMatching(/exceeded its progress deadline/)]);
});

test('a rollout restart is the strategic-merge patch kubectl sends, stamped to the millisecond', async () => {
  const f = fakeApi(() => ({ json: {} }));
  await new Kubectl({ namespace: 'x', api: f.api }).rolloutRestart(['a', 'b']);
  expect(f.calls.map((c) => [c.method, c.path, c.contentType])).toEqual([
    [
      'PATCH',
      '/apis/apps/v1/namespaces/x/deployments/a?fieldManager=kubectl-rollout',
      'application/strategic-merge-patch+json',
    ],
    [
      'PATCH',
      '/apis/apps/v1/namespaces/x/deployments/b?fieldManager=kubectl-rollout',
      'application/strategic-merge-patch+json',
    ],
  ]);
  const stamp = (f.calls[0]!.body as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec
    .template.metadata.annotations['kubectl.kubernetes.io/restartedAt'];
  expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('a kubectl child never sees XSOAR_CERT_* (the passphrase, an EAB key) but keeps KUBECONFIG, PATH and HOME', () => {
  const env = {
    XSOAR_CERT_PASSPHRASE: 'hunter2',
    XSOAR_CERT_ACME_EAB_HMAC: 'k',
    KUBECONFIG: '/k',
    PATH: '/bin',
    HOME: '/h',
  };
  expect(childEnv(env)).toEqual({ KUBECONFIG: '/k', PATH: '/bin', HOME: '/h', KUBECTL_COMMAND_HEADERS: 'false' });
});
