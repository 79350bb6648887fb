// renew's notifications through the real CLI against the sandbox cluster, delivered to real peers on
// loopback: an HTTPS webhook receiver with a private CA made here, Debian's aiosmtpd (plain and
// STARTTLS), and a notify command. A receiver that is down changes no exit code and is audited;
// 'expiring' goes once a day per tenant.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttps, type Server } from 'node:https';
import { createServer as createTcp, connect } from 'node:net';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';

const DAY = 86400_000;
let sb: Sandbox;
let ca: MintedChain;
let dir: string;
let empty: string;

/** What the webhook receiver got: path, parsed body. */
const received: { path: string; body: unknown }[] = [];
let hook: Server;
let hookUrl: string;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createTcp().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50, tenant: ['xsoar', 'fleet-b'] });
  dir = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-notify-'));
  empty = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-empty-'));
  ca = await mintChain({ intermediates: 0, hosts: ['localhost', '127.0.0.1'], dir: path.join(dir, 'ca') });
  hook = createHttps({ cert: ca.leaf.certPem, key: ca.leaf.keyPem }, (req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(text) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `https://127.0.0.1:${(hook.address() as { port: number }).port}`;
});
afterAll(async () => {
  hook?.close();
  await sb?.stop();
});
beforeEach(() => void received.splice(0));

const t = () => sb.tenants[0]!;
const renew = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(['renew', '-n', t().namespace, '--secret', t().secret, '--endpoint', t().endpoint, '--quiet', ...args], {
    env: { ...sb.env, ...env },
  });
/** A run that fails with exit 3: nothing usable in the drop folder. */
const failing = (args: string[], env?: NodeJS.ProcessEnv) => renew(['--from', empty, '--force', ...args], env);

/** Install a self-signed leaf that is `ageDays` into a `lifeDays` lifetime. */
async function installAged(lifeDays: number, ageDays: number) {
  const m = await mintChain({
    intermediates: 0,
    hosts: ['localhost', '127.0.0.1'],
    leaf: { notBefore: new Date(Date.now() - ageDays * DAY), days: lifeDays },
  });
  const r = await runCli(
    ['install', '--cert', m.files.leaf, '--key', m.files.key, '--ca', m.files.root, '-n', t().namespace]
      .concat(['--secret', t().secret, '--endpoint', t().endpoint, '--host', 'localhost'])
      .concat(['--allow-name-change', '--yes', '--quiet']),
    { env: sb.env },
  );
  expect({ code: r.code, stderr: r.code ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
  return new Date(Date.now() - ageDays * DAY + lifeDays * DAY);
}

const auditRecords = async () =>
  (await readFile(path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'audit.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('webhook', () => {
  test('a failed renewal POSTs the JSON document to an https receiver with a private CA; exit code unchanged', async () => {
    await installAged(90, 10);
    const r = await failing(['--notify-url', `${hookUrl}/json`, '--notify-ca', ca.files.root]);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toMatch(/not delivered/);
    expect(received).toHaveLength(1); // failure only: the certificate is not expiring
    const d = received[0]!.body as Record<string, unknown>;
    expect(received[0]!.path).toBe('/json');
    expect(d).toMatchObject({
      tenant: `${t().namespace}/${t().secret}`,
      namespace: t().namespace,
      secret: t().secret,
      event: 'failure',
      result: 'refused',
      exitCode: 3,
      host: (await import('node:os')).hostname(),
    });
    expect(Object.keys(d).sort()).toEqual(
      [
        'tenant',
        'namespace',
        'secret',
        'event',
        'result',
        'exitCode',
        'message',
        'expiry',
        'nextAttempt',
        'at',
        'host',
      ].sort(),
    );
    expect(d.message).toMatch(/no certificate found|valid and newer/);
    expect(Math.abs(Date.parse(d.expiry as string) - (Date.now() + 80 * DAY))).toBeLessThan(DAY);
    expect(Date.parse(d.nextAttempt as string)).toBeGreaterThan(Date.now()); // the backoff after the failure
    expect(Math.abs(Date.parse(d.at as string) - Date.now())).toBeLessThan(60_000);
  });

  test('slack: a renewal (--notify-on change) as {"text"}', async () => {
    await installAged(90, 10);
    const r = await renew(
      ['--self-signed', '--force', '--notify-on', 'change', '--notify-format', 'slack'].concat([
        '--notify-url',
        `${hookUrl}/slack`,
        '--notify-ca',
        ca.files.root,
      ]),
    );
    expect(r.code).toBe(0);
    expect(received).toHaveLength(1);
    const b = received[0]!.body as Record<string, string>;
    expect(Object.keys(b)).toEqual(['text']);
    expect(b.text).toContain(`*xsoar-cert: ${t().namespace}/${t().secret} renewed*`);
    expect(b.text).toMatch(/renewed from self-signed/);
  });

  test('teams: a failure as an Adaptive Card message; a "not due" run sends nothing', async () => {
    await installAged(90, 10);
    const url = ['--notify-url', `${hookUrl}/teams`, '--notify-ca', ca.files.root, '--notify-format', 'teams'];
    const r = await failing(url);
    expect(r.code).toBe(3);
    expect(received).toHaveLength(1);
    const b = received[0]!.body as {
      type: string;
      attachments: { contentType: string; content: Record<string, unknown> }[];
    };
    expect(b.type).toBe('message');
    expect(b.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(b.attachments[0]!.content.type).toBe('AdaptiveCard');
    expect(JSON.stringify(b.attachments[0]!.content.body)).toContain(
      `renewal of ${t().namespace}/${t().secret} failed`,
    );
    received.splice(0);
    const healthy = await renew(['--self-signed', '--notify-on', 'failure,change,expiring', ...url]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/nothing to do/);
    expect(received).toHaveLength(0);
  });

  test("a receiver that is down: warned, audited, the exit code is the renewal's (3, then 0)", async () => {
    await installAged(90, 10);
    const down = `https://127.0.0.1:${await freePort()}/hook?token=s3cret`;
    const failed = await failing(['--notify-url', down]);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(
      /the failure notification by --notify-url was not delivered: https:\/\/127\.0\.0\.1:\d+: connection refused/,
    );
    expect(failed.stderr).not.toContain('s3cret');
    const ok = await renew(['--self-signed', '--force', '--notify-on', 'change', '--notify-url', down]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/the change notification by --notify-url was not delivered/);
    const notes = (await auditRecords()).filter((x) => x.op === 'notify');
    expect(notes.slice(-2)).toEqual([
      expect.objectContaining({
        namespace: t().namespace,
        secret: t().secret,
        result: 'notify-failed',
        error: expect.stringMatching(/^failure by --notify-url: .*connection refused/),
      }),
      expect.objectContaining({ result: 'notify-failed', error: expect.stringMatching(/^change by --notify-url/) }),
    ]);
    expect(JSON.stringify(notes)).not.toContain('s3cret');
    const v = await runCli(['audit', '--verify'], { env: sb.env });
    expect({ code: v.code, err: v.stderr }).toEqual({ code: 0, err: expect.anything() });
  });
});

describe('command', () => {
  test('gets the JSON on stdin and none of the XSOAR_CERT_* secrets', async () => {
    await installAged(90, 10);
    const out = path.join(dir, 'cmd');
    const cmd = `cat > ${out}.json; env > ${out}.env`;
    const secrets = { XSOAR_CERT_PASSPHRASE: 'pass-s3cret', XSOAR_CERT_ACME_EAB_HMAC: 'hmac-s3cret' };
    const r = await failing(['--notify-cmd', cmd], secrets);
    expect(r.code).toBe(3);
    const d = JSON.parse(await readFile(`${out}.json`, 'utf8')) as Record<string, unknown>;
    expect(d).toMatchObject({ event: 'failure', exitCode: 3, tenant: `${t().namespace}/${t().secret}` });
    const env = await readFile(`${out}.env`, 'utf8');
    expect(env).not.toMatch(/s3cret|XSOAR_CERT_PASSPHRASE|XSOAR_CERT_ACME_EAB_HMAC|XSOAR_CERT_STATE_DIR/);
    expect(env).toContain('XSOAR_CERT_NOTIFY_EVENT=failure');
    expect(env).toContain(`XSOAR_CERT_NOTIFY_TENANT=${t().namespace}/${t().secret}`);
    expect(env).toMatch(/^PATH=/m);
  });

  test("'expiring' fires once a day per tenant, remembered in its renewal state", async () => {
    const expiry = await installAged(30, 25); // expires in 5 days
    const log = path.join(dir, 'expiring.jsonl');
    await writeFile(log, '');
    const cmd = ['--notify-on', 'expiring', '--notify-cmd', `cat >> ${log}`];
    expect((await failing(cmd)).code).toBe(3);
    const first = (await readFile(log, 'utf8')).trim().split('\n');
    expect(first).toHaveLength(1);
    const d = JSON.parse(first[0]!) as Record<string, unknown>;
    expect(d).toMatchObject({ event: 'expiring', result: 'refused', exitCode: 3 });
    expect(Math.abs(Date.parse(d.expiry as string) - expiry.getTime())).toBeLessThan(DAY);
    const state = JSON.parse(
      await readFile(
        path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'renewals', `${t().namespace}__${t().secret}.json`),
        'utf8',
      ),
    ) as { lastExpiringNotice?: string };
    expect(state.lastExpiringNotice).toBe(d.at);
    // The same day: the failure again, no second notice; without --force the backoff skips, no notice either.
    expect((await failing(cmd)).code).toBe(3);
    expect((await renew(['--from', empty, ...cmd])).code).toBe(0);
    expect((await readFile(log, 'utf8')).trim().split('\n')).toHaveLength(1);
  });
});

describe('fleet', () => {
  test('several tenants: one notification each, after the table; the exit code stays 8, then 0', async () => {
    const log = path.join(dir, 'fleet.jsonl');
    await writeFile(log, '');
    const fleet = (args: string[]) =>
      runCli(['renew', '-n', 'xsoar', '-n', 'fleet-b', '--force', '--quiet', '--timeout', '20', ...args], {
        env: sb.env,
      });
    const cmd = ['--notify-on', 'failure,change', '--notify-cmd', `cat >> ${log}`];
    const failed = await fleet(['--from', empty, ...cmd]);
    expect(failed.code).toBe(8);
    const renewed = await fleet(['--self-signed', ...cmd]);
    expect(renewed.code).toBe(0);
    const docs = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const seen = docs.map((d) => `${d.event} ${d.tenant} ${d.exitCode}`).sort();
    expect(seen).toEqual([
      'change fleet-b/xsoar-tls 0',
      'change xsoar/xsoar-tls 0',
      'failure fleet-b/xsoar-tls 3',
      'failure xsoar/xsoar-tls 3',
    ]);
  });
});

/** Debian's aiosmtpd with its Debugging handler, which prints each message it receives to stdout. */
async function startSmtp(extra: string[] = []): Promise<{ port: number; proc: ChildProcess; out: () => string }> {
  const port = await freePort();
  const proc = spawn('/usr/bin/python3', ['-u', '-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), r(true))).on('error', () => r(false));
    });
    if (up) break;
    if (i > 100) throw new Error(`aiosmtpd did not start: ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, proc, out: () => text };
}

/** The printed message with quoted-printable soft breaks and escapes undone (nodemailer QP-encodes long lines). */
const unqp = (s: string) =>
  s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

const waitFor = async (cond: () => boolean, what: string) => {
  for (let i = 0; !cond(); i++) {
    if (i > 50) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('mail', () => {
  test('a failure mails the subject and a body that says what to do, through aiosmtpd', async () => {
    await installAged(90, 10);
    const smtp = await startSmtp();
    try {
      const config = path.join(dir, 'mail.json');
      const mail = { from: 'pki@example.com', host: '127.0.0.1', port: smtp.port };
      await writeFile(config, JSON.stringify({ notify: { mail } }));
      const r = await failing(['--config', config, '--notify-mail', 'ops@example.com']);
      expect(r.code).toBe(3);
      expect(r.stderr).not.toMatch(/not delivered/);
      await waitFor(() => /END MESSAGE/.test(smtp.out()), 'the message');
      const m = unqp(smtp.out());
      expect(m).toContain(`Subject: xsoar-cert: renewal of ${t().namespace}/${t().secret} failed`);
      expect(m).toMatch(/^From: pki@example\.com/m);
      expect(m).toMatch(/^To: ops@example\.com/m);
      expect(m).toMatch(/failed at .* \(refused, exit 3\):/);
      expect(m).toContain(`xsoar-cert status -n ${t().namespace}`);
      expect(m).toContain('xsoar-cert audit --failed --since 7d');
    } finally {
      smtp.proc.kill();
    }
  });

  test("STARTTLS when asked (the server's certificate from the private CA); a server that cannot is not used", async () => {
    await installAged(90, 10);
    const tls = await startSmtp(['--tlscert', ca.files.leaf, '--tlskey', ca.files.key]);
    const plain = await startSmtp();
    try {
      const config = path.join(dir, 'starttls.json');
      const mail = (port: number) => ({ to: 'ops@example.com', host: '127.0.0.1', port, starttls: true });
      await writeFile(config, JSON.stringify({ notify: { mail: mail(tls.port) } }));
      const r = await failing(['--config', config, '--notify-ca', ca.files.root]);
      expect(r.code).toBe(3);
      expect(r.stderr).not.toMatch(/not delivered/);
      await waitFor(() => /END MESSAGE/.test(tls.out()), 'the message');
      expect(tls.out()).toContain('renewal of');
      await writeFile(config, JSON.stringify({ notify: { mail: mail(plain.port) } }));
      const r2 = await failing(['--config', config]);
      expect(r2.code).toBe(3);
      expect(r2.stderr).toMatch(
        /the failure notification by --notify-mail was not delivered: SMTP 127\.0\.0\.1:\d+: .*STARTTLS/i,
      );
      expect(plain.out()).not.toMatch(/MESSAGE FOLLOWS/);
    } finally {
      tls.proc.kill();
      plain.proc.kill();
    }
  });
});
