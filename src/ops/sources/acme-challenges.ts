// The ACME challenges, published where the CA will look and removed afterwards, deleting only
// what this run wrote: DNS-01 by RFC 2136 UPDATE or a hook (each record checked visible before
// the CA is asked), HTTP-01 by a responder of our own or files under a webroot.
import path from 'node:path';
import { CaError, CancelledError, InputError, UsageError } from '../../errors.js';
import type { Challenge } from '../../net/acme.js';
import type { Reporter } from '../reporter.js';
import type { AcmeSettings, ChallengeKind } from './acme.js';

export interface Publisher {
  publish(cs: Challenge[], signal: AbortSignal): Promise<void>;
  cleanup(): Promise<void>;
}

/** Wait `ms`, or stop at once on the signal (also when it came before the wait began). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r, j) => {
    const cancel = () => {
      clearTimeout(t);
      j(new CancelledError('Cancelled (Ctrl-C / SIGTERM) during the ACME order: nothing was changed.'));
    };
    const t = setTimeout(r, ms);
    if (signal?.aborted) return cancel();
    signal?.addEventListener('abort', cancel, { once: true });
  });

/**
 * Poll until every DNS-01 value is visible at `lookup`, up to 30 s; a value never seen is a
 * CA-side failure we catch first.
 */
async function waitVisible(
  cs: Challenge[],
  lookup: (name: string) => Promise<string[]>,
  where: string,
  signal: AbortSignal,
  waitS = 30,
): Promise<void> {
  const until = Date.now() + waitS * 1000;
  for (;;) {
    const missing: Challenge[] = [];
    for (const c of cs) if (!(await lookup(c.recordName!).catch((): string[] => [])).includes(c.value)) missing.push(c);
    if (!missing.length) return;
    if (Date.now() > until)
      throw new CaError(
        `the DNS-01 record ${missing[0]!.recordName} does not hold the challenge value at ${where} after ${waitS} s: ` +
          'the CA would refuse it',
        'Check the DNS hook or the update permissions for that name. ' +
          'Nothing was changed (the records were removed).',
      );
    await sleep(500, signal);
  }
}

/** The publisher of the one challenge the settings choose (challengeKind). */
export async function makePublisher(kind: ChallengeKind, s: AcmeSettings, out: Reporter): Promise<Publisher> {
  if (kind === 'rfc2136') return rfc2136Publisher(s, out);
  if (kind === 'hook') return hookPublisher(s, out);
  if (kind === 'http') return httpPublisher(s.httpPort!, s.directory, out);
  return webrootPublisher(s.webroot!, s.directory, out);
}

async function rfc2136Publisher(s: AcmeSettings, out: Reporter): Promise<Publisher> {
  const dns = await import('../../net/dns-update.js');
  const server = dns.parseServer(s.dnsRfc2136!, '--dns-rfc2136');
  const key = await dns.readTsigKey(s.dnsTsigKey!);
  const check = s.dnsCheck ? dns.parseServer(s.dnsCheck, '--dns-check') : server;
  const published: Array<{ zone: string; name: string; value: string }> = [];
  return {
    async publish(cs, signal) {
      for (const c of cs) {
        const zone =
          s.dnsZone ??
          (await dns.findZone(server, c.domain).catch((e: Error) => {
            throw new CaError(`DNS-01: ${e.message}`, 'Pass --dns-zone ZONE.');
          }));
        await dns
          .sendUpdate(server, zone, key, [{ action: 'add', name: c.recordName!, value: c.value }])
          .catch((e: Error) => {
            throw new CaError(
              `DNS-01: ${e.message}`,
              "Check the TSIG key and the zone's update-policy. Nothing was changed.",
            );
          });
        published.push({ zone, name: c.recordName!, value: c.value });
        out.info(`  published TXT ${c.recordName} by RFC 2136 at ${s.dnsRfc2136}`);
      }
      await waitVisible(cs, (n) => dns.queryTxt(check, n), `${check.host}:${check.port}`, signal, s.dnsWaitS);
    },
    async cleanup() {
      for (const p of published.splice(0))
        await dns.sendUpdate(server, p.zone, key, [{ action: 'delete', name: p.name, value: p.value }]);
    },
  };
}

async function hookPublisher(s: AcmeSettings, out: Reporter): Promise<Publisher> {
  const { execa } = await import('execa');
  const dns = await import('../../net/dns-update.js');
  const { childEnv } = await import('../../child-env.js');
  const published: Challenge[] = [];
  const run = async (action: 'add' | 'remove', c: Challenge) => {
    // The hook gets our environment less every XSOAR_CERT_* secret (the passphrase, the EAB key),
    // then only its own inputs: the names were checked against the order (net/acme-answers.ts).
    const env = {
      ...childEnv(),
      XSOAR_CERT_DNS_NAME: c.recordName!,
      XSOAR_CERT_DNS_VALUE: c.value,
      XSOAR_CERT_DNS_DOMAIN: c.domain,
      XSOAR_CERT_DNS_ACTION: action,
    };
    const r = await execa('/bin/sh', ['-c', `${s.dnsHook} "$1"`, 'xsoar-cert-dns-hook', action], {
      env,
      extendEnv: false,
      reject: false,
      timeout: 120_000,
      stdin: 'ignore',
    });
    if (r.exitCode !== 0)
      throw new CaError(
        `--dns-hook ${action} for ${c.recordName} exited ${r.exitCode ?? r.signal}: ${
          String(r.stderr || r.stdout)
            .trim()
            .split('\n')
            .pop() ?? ''
        }`,
        'Fix the hook (it gets XSOAR_CERT_DNS_NAME and XSOAR_CERT_DNS_VALUE). Nothing was changed.',
      );
  };
  return {
    async publish(cs, signal) {
      for (const c of cs) {
        published.push(c);
        await run('add', c);
        out.info(`  published TXT ${c.recordName} by --dns-hook`);
      }
      if (s.dnsCheck) {
        const check = dns.parseServer(s.dnsCheck, '--dns-check');
        await waitVisible(cs, (n) => dns.queryTxt(check, n), `${check.host}:${check.port}`, signal, s.dnsWaitS);
      } else {
        const { Resolver } = await import('node:dns/promises');
        const r = new Resolver();
        await waitVisible(
          cs,
          async (n) => (await r.resolveTxt(n)).map((x) => x.join('')),
          'the system resolver',
          signal,
          s.dnsWaitS,
        );
      }
    },
    async cleanup() {
      for (const c of published.splice(0)) await run('remove', c);
    },
  };
}

/**
 * One HTTP-01 responder per port for the whole run: a fleet's concurrent orders (one per set of names)
 * share it, each answering its own tokens; it closes when the last order is done. Several
 * responders on one port would fail all but the first with EADDRINUSE.
 */
interface SharedResponder {
  tokens: Map<string, string>;
  users: number;
  ready: Promise<import('node:http').Server>;
}
const responders = new Map<number, SharedResponder>();

async function listen(port: number): Promise<import('node:http').Server> {
  const http = await import('node:http');
  const r = responders.get(port)!;
  const server = http.createServer((req, res) => {
    const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,256})$/.exec(req.url ?? '')?.[1];
    const body = token ? r.tokens.get(token) : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const hint =
        e.code === 'EACCES'
          ? 'Ports below 1024 need root: use a high port that port 80 is forwarded to.'
          : 'Choose a free port.';
      reject(new UsageError(`--http-port ${port}: cannot listen (${e.code})`, hint));
    });
    server.listen(port, () => resolve());
  });
  return server;
}

async function httpPublisher(port: number, directory: string, out: Reporter): Promise<Publisher> {
  let r = responders.get(port);
  if (!r) {
    r = { tokens: new Map(), users: 0, ready: Promise.resolve(undefined as never) };
    responders.set(port, r);
    r.ready = listen(port);
    r.ready.then(() => out.info(`  HTTP-01 responder listening on port ${port}`)).catch(() => responders.delete(port));
  }
  r.users++;
  const shared = r;
  const server = await shared.ready.catch((err: unknown) => {
    shared.users--;
    throw err;
  });
  const mine: string[] = [];
  let done = false;
  return {
    async publish(cs) {
      for (const c of cs) {
        const token = await checkedToken(c, directory);
        shared.tokens.set(token, c.value);
        mine.push(token);
      }
    },
    async cleanup() {
      if (done) return;
      done = true;
      for (const t of mine.splice(0)) shared.tokens.delete(t);
      if (--shared.users > 0) return;
      responders.delete(port);
      server.closeAllConnections?.();
      await new Promise<void>((closed) => server.close(() => closed()));
    },
  };
}

/** The token of a challenge, refused unless base64url (RFC 8555 8.1): it becomes a file name and a URL path. */
async function checkedToken(c: Challenge, directory: string): Promise<string> {
  const { isAcmeToken, shown } = await import('../../net/acme-answers.js');
  if (!isAcmeToken(c.token)) {
    const todo = 'nothing was written or changed; check that --acme names a CA you trust';
    throw new CaError(
      `the CA at ${new URL(directory).host} sent an HTTP-01 token that is not base64url: ${shown(c.token)}: ${todo}`,
    );
  }
  return c.token;
}

/**
 * The challenge folder under the webroot, created if needed; refused when it or .well-known is a
 * symbolic link (the responses must land in this webroot, nowhere a link points).
 */
async function challengeFolder(root: string): Promise<string> {
  const { lstat, mkdir } = await import('node:fs/promises');
  const dir = path.join(root, '.well-known', 'acme-challenge');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const d of [path.dirname(dir), dir]) {
    const st = await lstat(d);
    if (st.isSymbolicLink() || !st.isDirectory()) {
      const is = st.isSymbolicLink() ? 'a symbolic link' : 'not a folder';
      throw new InputError(`--webroot ${root}: ${d} is ${is}: nothing was written or changed; make it a plain folder`, {
        file: d,
      });
    }
  }
  return dir;
}

async function webrootPublisher(root: string, directory: string, out: Reporter): Promise<Publisher> {
  const { open, unlink } = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const written: string[] = [];
  return {
    async publish(cs) {
      const dir = await challengeFolder(root);
      for (const c of cs) {
        const f = path.join(dir, await checkedToken(c, directory));
        // A new file only (never through a link, never over a file already there): what is
        // removed afterwards is exactly what this run wrote.
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
        const fh = await open(f, flags, 0o644).catch((e: NodeJS.ErrnoException) => {
          const todo = 'nothing was changed; remove what is there';
          throw new InputError(`--webroot ${root}: cannot create ${f} (${e.code}): ${todo}`, { file: f });
        });
        written.push(f);
        try {
          await fh.writeFile(c.value);
        } finally {
          await fh.close();
        }
      }
      out.info(`  HTTP-01 responses written under ${dir}`);
    },
    async cleanup() {
      for (const f of written.splice(0)) await unlink(f).catch(() => undefined);
    },
  };
}
