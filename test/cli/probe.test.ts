// probe against real TLS servers started in the test: versions, served order, missing intermediate, refused.
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer, type SecureVersion } from 'node:tls';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';

let m: MintedChain;
const servers: Server[] = [];
beforeAll(async () => {
  m = await mintChain({ keyType: 'ecdsa', intermediates: 1, hosts: ['localhost', '127.0.0.1'] });
});
afterAll(() => servers.forEach((s) => s.close()));

async function serve(cert: string, min: SecureVersion = 'TLSv1.2', max: SecureVersion = 'TLSv1.3'): Promise<string> {
  const s = createTlsServer({ key: m.leaf.keyPem, cert, minVersion: min, maxVersion: max }, (c) => c.end());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(s.address() as { port: number }).port}`;
}

const probe = (ep: string, extra: string[] = []) =>
  runCli(['probe', ep, '--ca', m.files.root, '--servername', 'localhost', '--json', ...extra]);

test('a good endpoint: TLS 1.2 and 1.3 only, chain complete and in order, trusted, host matches → exit 0', async () => {
  const ep = await serve(m.leaf.certPem + m.intermediates[0]!.certPem);
  const r = await probe(ep);
  expect(r.code).toBe(0);
  const [res] = JSON.parse(r.stdout);
  expect(res).toMatchObject({
    status: 'ok',
    versions: { TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true },
    orderOk: true,
    trusted: true,
    hostMatch: true,
    missingIntermediate: false,
  });
  expect(res.chain).toHaveLength(2);
});

test.each([
  ['TLS 1.2 only', 'TLSv1.2', 'TLSv1.2', /TLS 1\.3 is not accepted/],
  ['TLS 1.3 only', 'TLSv1.3', 'TLSv1.3', /TLS 1\.2 is not accepted/],
] as const)('%s is reported per version', async (_n, min, max, msg) => {
  const ep = await serve(m.leaf.certPem + m.intermediates[0]!.certPem, min, max);
  const r = await probe(ep);
  expect(r.code).toBe(1);
  const [res] = JSON.parse(r.stdout);
  expect(res.versions['TLSv1.2']).toBe(min === 'TLSv1.2');
  expect(res.versions['TLSv1.3']).toBe(max === 'TLSv1.3');
  expect(res.problems.join('\n')).toMatch(msg);
});

test('a missing intermediate and a wrong order are detected from the bytes the server sent', async () => {
  const missing = await probe(await serve(m.leaf.certPem));
  expect(JSON.parse(missing.stdout)[0]).toMatchObject({ missingIntermediate: true, status: 'problems' });
  const reversed = await probe(await serve(m.leaf.certPem + m.root.certPem + m.intermediates[0]!.certPem));
  expect(JSON.parse(reversed.stdout)[0]).toMatchObject({ orderOk: false, orderChecked: true });
});

test('refused, timed-out and non-TLS endpoints are reported per endpoint, never a crash', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as { port: number }).port;
  closed.close();
  const silent = createServer(() => undefined); // accepts, never answers
  const plain = createServer((c) => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  servers.push(silent, plain);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const good = await serve(m.leaf.certPem + m.intermediates[0]!.certPem);
  const r = await runCli([
    'probe',
    `127.0.0.1:${closedPort}`,
    `127.0.0.1:${(silent.address() as { port: number }).port}`,
    `127.0.0.1:${(plain.address() as { port: number }).port}`,
    good,
    '--ca',
    m.files.root,
    '--servername',
    'localhost',
    '--timeout',
    '500',
  ]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/UNREACHABLE/);
  expect(r.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${closedPort}: connection refused`));
  expect(r.stderr).toMatch(/no answer within 500 ms|no TLS handshake succeeded/);
  expect(r.stdout).toMatch(
    new RegExp(`${good.replace(/\./g, '\\.')}\\s+- - 1\\.2 1\\.3\\s+\\d+ days\\s+2 cert\\(s\\)\\s+yes\\s+yes\\s+OK`),
  );
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect((await runCli(['probe', 'x', '--ports', 'abc'])).code).toBe(2);
});
