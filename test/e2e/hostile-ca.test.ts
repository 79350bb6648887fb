// renew --acme against a hostile CA (test/helpers/hostile-acme.ts, real HTTPS on loopback), the
// real CLI and the sandbox cluster, BIND 9 for RFC 2136. Each case: the exit code within a bounded
// time, one line on stderr (--quiet), nothing published for a name that was not ordered (the zone's
// serial, the hook's log), nothing written outside the webroot (a victim file), nothing changed in
// the cluster (the secret's resourceVersion), no secret in the hook's environment.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { runCli } from '../helpers/run-cli.js';
import { startBind, ZONE, type Bind } from '../helpers/acme-servers.js';
import { RETRY_MODES, startHostileAcme, type HostileAcme, type HostileMode } from '../helpers/hostile-acme.js';

let sb: Sandbox;
let bind: Bind;
let ca: HostileAcme;
let base: string;
const SECRETS = { XSOAR_CERT_PASSPHRASE: 'pp-secret-value', XSOAR_CERT_ACME_EAB_HMAC: 'eab-secret-value' };

const files = () => ({
  webroot: path.join(base, 'webroot'),
  linked: path.join(base, 'linked-webroot'),
  victimDir: path.join(base, 'victim'),
  victim: path.join(base, 'victim', 'important.txt'),
  hook: path.join(base, 'hook.sh'),
  hookLog: path.join(base, 'hook.log'),
  envLog: path.join(base, 'hook-env.log'),
});

/** A --dns-hook that records each call and its environment, then publishes with nsupdate (inputs checked). */
function writeHook(): void {
  const f = files();
  writeFileSync(
    f.hook,
    `#!/bin/sh
set -eu
printf '%s %s\\n' "$1" "$XSOAR_CERT_DNS_NAME" >> '${f.hookLog}'
env >> '${f.envLog}'
name=$XSOAR_CERT_DNS_NAME value=$XSOAR_CERT_DNS_VALUE
case $name in *[!A-Za-z0-9._-]*|'') exit 1 ;; esac
case $value in *[!A-Za-z0-9_-]*|'') exit 1 ;; esac
if [ "$1" = add ]; then op="add $name. 60"; else op="delete $name."; fi
printf 'server 127.0.0.1 ${bind.port}\\nzone ${ZONE}\\nupdate %s TXT "%s"\\nsend\\n' "$op" "$value" | nsupdate -k '${bind.keyFile}'
`,
  );
  chmodSync(f.hook, 0o755);
}

beforeAll(async () => {
  [sb, bind, ca] = await Promise.all([
    startSandbox({ tenants: 1, rolloutDelayMs: 50, inlinePods: true }),
    startBind(),
    startHostileAcme(),
  ]);
  base = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-hostile-'));
  const f = files();
  mkdirSync(f.victimDir);
  writeFileSync(f.victim, 'important\n');
  mkdirSync(path.join(f.linked, '.well-known'), { recursive: true });
  symlinkSync(f.victimDir, path.join(f.linked, '.well-known', 'acme-challenge'));
  writeHook();
}, 60000);
afterAll(async () => {
  await Promise.all([sb?.stop(), bind?.stop(), ca?.stop()]);
  if (base) rmSync(base, { recursive: true, force: true });
});

const tenant = () => sb.tenants[0]!;
const T1 = `tenant1.${ZONE}`;
const T2 = `tenant2.${ZONE}`;

async function resourceVersion(): Promise<string> {
  const s = (await sb.state()).secrets.find(
    (x: { metadata: { namespace: string; name: string } }) =>
      x.metadata.namespace === tenant().namespace && x.metadata.name === tenant().secret,
  );
  return s.metadata.resourceVersion;
}

/** The zone's SOA serial: BIND raises it with every dynamic update it applies. */
function zoneSerial(): string {
  const r = spawnSync('dig', ['+short', '-p', String(bind.port), '@127.0.0.1', ZONE, 'SOA'], { encoding: 'utf8' });
  return r.stdout.trim().split(/\s+/)[2] ?? '';
}

async function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
}

type Challenge = 'rfc2136' | 'hook' | 'webroot' | 'linked-webroot' | 'http';
interface Case {
  name: string;
  mode: HostileMode;
  challenge: Challenge;
  code: number;
  err: RegExp;
  hosts?: string[];
  /** false: not --force (the run decides from ARI and the threshold). */
  force?: boolean;
  maxMs?: number;
  /** The zone may change (the ordered names were published, then removed). */
  publishes?: boolean;
  check?: (seen: HostileAcme['seen']) => void;
}

const posted = (seen: HostileAcme['seen'], p: string | RegExp) =>
  seen.filter((s) => s.method === 'POST' && (typeof p === 'string' ? s.path === p : p.test(s.path)));
const noChallengeAnswered = (seen: HostileAcme['seen']) => expect(posted(seen, /^\/chall\//)).toEqual([]);
const hookCalls = () =>
  existsSync(files().hookLog) ? readFileSync(files().hookLog, 'utf8').split('\n').filter(Boolean) : [];

const CASES: Case[] = [
  {
    name: 'finding 2: an HTTP-01 token holding "../" (--webroot) is refused before any file is written',
    mode: 'token-traversal',
    challenge: 'webroot',
    code: 9,
    err: /the CA at 127\.0\.0\.1:\d+ sent a http-01 challenge whose token is not base64url: "\.\.\/\.\.\/\.\.\/victim\/important\.txt"/,
    check: noChallengeAnswered,
  },
  {
    name: 'finding 2: an HTTP-01 token holding "../" (--http-port responder) is refused',
    mode: 'token-traversal',
    challenge: 'http',
    code: 9,
    err: /token is not base64url/,
    check: noChallengeAnswered,
  },
  {
    name: 'finding 2: a symlinked .well-known/acme-challenge folder is refused (exit 3), nothing written through it',
    mode: 'ok',
    challenge: 'linked-webroot',
    code: 3,
    err: /--webroot .*acme-challenge is a symbolic link: nothing was written/,
    check: noChallengeAnswered,
  },
  {
    name: 'finding 3: an authorization for a name not ordered (RFC 2136): no DNS UPDATE at all',
    mode: 'unordered-name',
    challenge: 'rfc2136',
    hosts: [T1, T2],
    code: 9,
    err: /sent an authorization for a name that was not ordered: "other\.xsoar\.test": nothing was published/,
    check: noChallengeAnswered,
  },
  {
    name: 'finding 3: an authorization for a name not ordered (--dns-hook): the hook is never called',
    mode: 'unordered-name',
    challenge: 'hook',
    hosts: [T1, T2],
    code: 9,
    err: /not ordered: "other\.xsoar\.test"/,
    check: () => expect(hookCalls()).toEqual([]),
  },
  {
    name: 'finding 3: a name holding a newline (--dns-hook): refused, escaped in one line, the hook never called',
    mode: 'name-newline',
    challenge: 'hook',
    code: 9,
    err: /not a DNS name or IP address: .*tenant1\.xsoar\.test\\nupdate add other/,
    check: () => expect(hookCalls()).toEqual([]),
  },
  {
    name: 'finding 5: the hook gets no XSOAR_CERT_* secret (an honest order up to the CA refusing the challenge)',
    mode: 'ok',
    challenge: 'hook',
    code: 9,
    publishes: true,
    err: /the CA refused a challenge: this test CA validates nothing \(unauthorized\): nothing was changed/,
    check: () => {
      expect(hookCalls()).toEqual([`add _acme-challenge.${T1}`, `remove _acme-challenge.${T1}`]);
      const env = readFileSync(files().envLog, 'utf8');
      expect(env).toContain(`XSOAR_CERT_DNS_NAME=_acme-challenge.${T1}`);
      expect(env).not.toMatch(/XSOAR_CERT_PASSPHRASE|XSOAR_CERT_ACME_EAB_HMAC|pp-secret-value|eab-secret-value/);
    },
  },
  {
    name: 'finding 9: an authorization without "challenges"',
    mode: 'no-challenges',
    challenge: 'rfc2136',
    code: 9,
    err: /sent an authorization for tenant1\.xsoar\.test whose "challenges" is not a list: undefined/,
  },
  {
    name: 'finding 9: a challenge without "token"',
    mode: 'no-token',
    challenge: 'webroot',
    code: 9,
    err: /sent a http-01 challenge whose token is not base64url: undefined/,
  },
  {
    name: 'finding 9: an authorization of the wrong types',
    mode: 'wrong-types',
    challenge: 'rfc2136',
    code: 9,
    err: /sent an authorization for an identifier that is not a DNS name or IP address: \{"type":"dns","value":42\}/,
  },
  {
    name: 'finding 9: an order whose authorization URL is http://',
    mode: 'http-url',
    challenge: 'rfc2136',
    code: 9,
    err: /sent an order authorization that is not an https URL: "http:\/\/127\.0\.0\.1/,
  },
  {
    name: 'finding 9: a directory with a non-https newNonce and a numeric newOrder',
    mode: 'bad-directory',
    challenge: 'rfc2136',
    code: 9,
    err: /sent a directory "newNonce" that is not an https URL/,
    check: (seen) => expect(posted(seen, /./)).toEqual([]),
  },
  {
    name: 'finding 9: a certificate download that is not a PEM chain (after a clean publish and removal)',
    mode: 'not-a-certificate',
    challenge: 'rfc2136',
    code: 9,
    publishes: true,
    err: /sent a certificate download that is not a PEM certificate chain: \{"certificate":"not a PEM chain".*: the challenge responses were removed and nothing was changed/,
  },
  {
    name: 'finding 9: a 10 MB answer is cut at 1 MiB',
    mode: 'huge-body',
    challenge: 'rfc2136',
    code: 9,
    err: /the CA at 127\.0\.0\.1:\d+ sent an answer larger than 1 MiB to POST .*\/order": nothing was changed/,
  },
  {
    name: 'finding 9: an answer that never ends is cut by the total deadline',
    mode: 'endless-body',
    challenge: 'rfc2136',
    code: 9,
    maxMs: 30_000,
    err: /the CA at 127\.0\.0\.1:\d+ did not complete its answer within 10 s to POST .*\/order": nothing was changed/,
  },
  {
    name: 'finding 9: a redirect of the ACME API to another host is not followed',
    mode: 'redirect',
    challenge: 'rfc2136',
    code: 9,
    err: /redirected POST .*\/order" to "https:\/\/localhost:\d+\/elsewhere\/order": ACME requests are not redirected/,
    check: (seen) => expect(seen.filter((s) => s.path.startsWith('/elsewhere'))).toEqual([]),
  },
  {
    name: 'finding 4: a renewalInfo that never answers is "no window" with a note, the run goes on (not due, exit 0)',
    mode: 'ari-silent',
    challenge: 'rfc2136',
    force: false,
    code: 0,
    maxMs: 20_000,
    err: /renewalInfo "https:\/\/127\.0\.0\.1:\d+\/renewal-info\/[^"]+" did not complete its answer within 5 s: no renewal window, the renewal policy decides/,
    check: (seen) => {
      expect(seen.filter((s) => s.path.startsWith('/renewal-info/'))).toHaveLength(1);
      expect(posted(seen, '/order')).toEqual([]);
    },
  },
  ...RETRY_MODES.map((mode): Case => ({
    name: `finding 7: Retry-After ${mode.replace('retry-', '').replace('-', ' as ')} ends the run at once`,
    mode,
    challenge: 'rfc2136',
    code: 9,
    maxMs: 20_000,
    err: new RegExp(
      `${mode.includes('429') ? 'the CA is rate limiting \\(HTTP 429\\)' : `the CA answered HTTP ${mode.split('-')[1]}`} and asks to retry after 3[56]\\d\\d s: nothing was changed; the next scheduled renew asks 127\\.0\\.0\\.1:\\d+ again`,
    ),
    check: (seen) => expect(posted(seen, '/account')).toHaveLength(1),
  })),
];

function challengeArgs(c: Challenge): Promise<string[]> | string[] {
  const f = files();
  if (c === 'rfc2136') return ['--dns-rfc2136', bind.server, '--dns-tsig-key', bind.keyFile];
  if (c === 'hook') return ['--dns-hook', f.hook, '--dns-check', bind.server, '--dns-wait', '5'];
  if (c === 'webroot') return ['--webroot', f.webroot];
  if (c === 'linked-webroot') return ['--webroot', f.linked];
  return freePort().then((p) => ['--http-port', String(p)]);
}

test.each(CASES)(
  '$name',
  async (c) => {
    ca.reset(c.mode);
    rmSync(files().hookLog, { force: true });
    rmSync(files().envLog, { force: true });
    const before = { rv: await resourceVersion(), serial: zoneSerial(), victims: readdirSync(files().victimDir) };
    const state = mkdtempSync(path.join(base, 'state-'));
    const hosts = (c.hosts ?? [T1]).flatMap((h) => ['--host', h]);
    const started = Date.now();
    const r = await runCli(
      [
        'renew',
        '--acme',
        ca.directory,
        '--acme-ca',
        ca.tlsCa,
        '--acme-agree-tos',
        '-n',
        tenant().namespace,
        '--secret',
        tenant().secret,
        '--endpoint',
        tenant().endpoint,
        '--quiet',
        ...(c.force === false ? [] : ['--force', '--allow-name-change']),
        ...hosts,
        ...(await challengeArgs(c.challenge)),
      ],
      { env: { ...sb.env, ...SECRETS, XSOAR_CERT_STATE_DIR: state }, timeoutMs: 40_000 },
    );
    const ms = Date.now() - started;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: c.code, stderr: expect.stringMatching(c.err) });
    expect(ms).toBeLessThan(c.maxMs ?? 20_000); // bounded: the hostile answers ask for an hour, or forever
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+|internal error/);
    // Nothing outside the ordered names, the webroot or the cluster.
    expect(readFileSync(files().victim, 'utf8')).toBe('important\n');
    expect(readdirSync(files().victimDir)).toEqual(before.victims);
    const left = path.join(files().webroot, '.well-known', 'acme-challenge');
    if (existsSync(left)) expect(readdirSync(left)).toEqual([]);
    expect(await bind.txt(`_acme-challenge.${ca.otherName}`)).toEqual([]);
    for (const n of [T1, T2]) expect(await bind.txt(`_acme-challenge.${n}`)).toEqual([]);
    if (!c.publishes) expect(zoneSerial()).toBe(before.serial);
    const ordered = [T1, T2].flatMap((n) => [`add _acme-challenge.${n}`, `remove _acme-challenge.${n}`]);
    for (const line of hookCalls()) expect(ordered).toContain(line);
    expect(await resourceVersion()).toBe(before.rv);
    c.check?.(ca.seen);
  },
  45000,
);

test('finding 1: an ACME account key another user could have planted (readable by others) is refused, nothing POSTed', async () => {
  ca.reset('ok');
  const { accountSlug } = await import('../../src/net/acme.js');
  const state = mkdtempSync(path.join(base, 'state-'));
  mkdirSync(path.join(state, 'acme'), { mode: 0o700 });
  const key = path.join(state, 'acme', `${accountSlug(ca.directory)}.key`);
  writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nplanted\n-----END PRIVATE KEY-----\n');
  chmodSync(key, 0o644);
  const r = await runCli(
    [
      'renew',
      '--acme',
      ca.directory,
      '--acme-ca',
      ca.tlsCa,
      '--acme-agree-tos',
      '-n',
      tenant().namespace,
      '--secret',
      tenant().secret,
      '--quiet',
      '--force',
      '--allow-name-change',
      '--host',
      T1,
      ...(await challengeArgs('rfc2136')),
    ],
    { env: { ...sb.env, XSOAR_CERT_STATE_DIR: state }, timeoutMs: 40_000 },
  );
  expect({ code: r.code, stderr: r.stderr }).toEqual({
    code: 3,
    stderr: expect.stringMatching(
      /acme\/[^ ]+\.key: this xsoar-cert state holds a key but is readable by group or others/,
    ),
  });
  expect(posted(ca.seen, /./)).toEqual([]);
}, 45000);
