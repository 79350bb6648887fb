// A certificate from an ACME CA (RFC 8555): one of the sources that hand the transaction engine
// the same NewContent. A new key every time (or the installed one with reuseKey), a CSR from the
// one generation module, the account stored in the state dir (0600) per directory URL, every
// challenge published and checked where the CA will look before any is answered, and always
// cleaned up (also on failure and Ctrl-C), deleting only our own values.
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { CaError, CancelledError, InputError, UsageError } from '../../errors.js';
import {
  createStateFile,
  ensureStateFolder,
  readStateFile,
  stateDir,
  stateFolder,
  writeStateFile,
} from '../../state-dir.js';
import type { Reporter } from '../reporter.js';
import type { NewContent } from '../txn/types.js';
import type { X509Certificate } from 'node:crypto';
import type { Challenge } from '../../net/acme.js';

export interface AcmeSettings {
  /** The directory URL. */
  directory: string;
  email?: string;
  agreeTos?: boolean;
  eabKid?: string;
  eabHmacFile?: string;
  /** Trust for the ACME server's own TLS (else Node's CA store). */
  acmeCa?: string;
  dnsRfc2136?: string;
  dnsTsigKey?: string;
  dnsZone?: string;
  dnsHook?: string;
  /** Where DNS-01 records are checked before the CA is asked (default: the RFC 2136 server, or the system resolver). */
  dnsCheck?: string;
  httpPort?: number;
  webroot?: string;
  /** How long a DNS-01 record may take to show at the check server (--dns-wait, default 30 s). */
  dnsWaitS?: number;
  reuseKey?: boolean;
}

const MAX_SMALL_FILE = 64 * 1024;

/** Which challenge, from the flags: exactly one. */
export function challengeKind(s: AcmeSettings): 'rfc2136' | 'hook' | 'http' | 'webroot' {
  const kinds = [
    s.dnsRfc2136 && 'rfc2136',
    s.dnsHook && 'hook',
    s.httpPort !== undefined && 'http',
    s.webroot && 'webroot',
  ].filter(Boolean) as Array<'rfc2136' | 'hook' | 'http' | 'webroot'>;
  if (kinds.length !== 1)
    throw new UsageError(
      kinds.length
        ? `--acme takes one challenge, not ${kinds.length}: choose one of --dns-rfc2136, --dns-hook, --http-port, --webroot`
        : '--acme needs a challenge: --dns-rfc2136 HOST --dns-tsig-key FILE, --dns-hook CMD, --http-port N or --webroot DIR',
    );
  if (kinds[0] === 'rfc2136' && !s.dnsTsigKey)
    throw new UsageError('--dns-rfc2136 needs --dns-tsig-key FILE (the key tsig-keygen wrote)');
  return kinds[0]!;
}

/** Small inputs (account files, the EAB key, the ACME server's CA) read bounded: regular files, 64 KiB. */
async function readSmall(file: string, what: string): Promise<string> {
  const { readInputFile } = await import('../../pki/input-file.js');
  return (await readInputFile(file, { maxBytes: MAX_SMALL_FILE, what })).toString('utf8');
}

interface Account {
  directory: string;
  accountUrl: string;
  email?: string;
  createdAt: string;
}

function accountFiles(url: string, slug: string) {
  const dir = path.join(stateDir(), 'acme');
  return { dir, json: path.join(dir, `${slug}.json`), key: path.join(dir, `${slug}.key`), url };
}

/**
 * The stored account of this directory, or a new key for one (saved once the CA knows it). The
 * account key signs EAB bindings and orders: one planted by another user would take them over,
 * so the files are read only when they are this user's and private (state-dir.ts).
 */
async function loadAccount(f: ReturnType<typeof accountFiles>): Promise<{ keyPem: string; account?: Account }> {
  const keyPem = stateFolder('acme', false)
    ? readStateFile(f.key, { secret: true, maxBytes: MAX_SMALL_FILE })
    : undefined;
  if (keyPem === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
  }
  let account: Account | undefined;
  const text = readStateFile(f.json, { maxBytes: MAX_SMALL_FILE });
  try {
    account = text === undefined ? undefined : (JSON.parse(text) as Account);
  } catch {
    throw new InputError(`${f.json}: not valid JSON`, {
      file: f.json,
      hint: 'Remove it (and the .key beside it) to register a new ACME account.',
    });
  }
  const valid =
    account?.directory === f.url && typeof account.accountUrl === 'string' && /^https?:\/\//.test(account.accountUrl);
  return { keyPem, account: valid ? account : undefined };
}

function saveAccount(f: ReturnType<typeof accountFiles>, keyPem: string, a: Account): void {
  ensureStateFolder('acme');
  // An existing key file is the key this run loaded, unless a concurrent run saved its own first:
  // then this account is not recorded (the next run finds that key's account by newAccount).
  if (!createStateFile(f.key, keyPem) && readStateFile(f.key, { secret: true, maxBytes: MAX_SMALL_FILE }) !== keyPem)
    return;
  writeStateFile(f.json, JSON.stringify(a, null, 2) + '\n');
}

export interface AcmeRequest {
  names: string[];
  /** --reuse-key: the installed key (PKCS#8 PEM, memory only). */
  currentKeyPem?: string;
  /** Trust anchors to verify the issued chain (renew --ca), else the system store. */
  trustCa?: string;
  /** ARI: the certificate this one replaces. */
  replaces?: string;
}

/** The ACME server's own TLS trust (--acme-ca), read bounded; undefined: Node's CA store. */
async function acmeServerCa(s: AcmeSettings): Promise<Buffer | undefined> {
  return s.acmeCa ? Buffer.from(await readSmall(s.acmeCa, "the ACME server's CA certificate")) : undefined;
}

/**
 * RFC 9773, when the directory advertises renewalInfo: the installed certificate's identifier (sent
 * as `replaces`) and the CA's suggested renewal window. {} when the CA has no ARI.
 */
export async function renewalInfo(
  s: AcmeSettings,
  installed: X509Certificate,
  note?: (why: string) => void,
): Promise<{ certId?: string; window?: { start: Date; end: Date } }> {
  const acme = await import('../../net/acme.js');
  const tlsCa = await acmeServerCa(s);
  const dir = await acme.fetchDirectory(s.directory, tlsCa); // once per run: the order reuses it
  if (!dir.renewalInfo) return {};
  const certId = await acme.ariCertIdOf(installed.toString());
  return certId ? { certId, window: await acme.fetchRenewalWindow(dir, certId, tlsCa, note) } : {};
}

/** Obtain, verify and hand over: the NewContent of a certificate the CA issued for `req.names`. */
export async function acmeContent(s: AcmeSettings, req: AcmeRequest, out: Reporter): Promise<NewContent> {
  const kind = challengeKind(s);
  const acme = await import('../../net/acme.js');
  acme.preloadAcmeClient(); // ~200 ms of module loading, overlapped with the directory check and the new key
  const tlsCa = await acmeServerCa(s);
  const directory = await acme.fetchDirectory(s.directory, tlsCa);
  const files = accountFiles(s.directory, acme.accountSlug(s.directory));
  const { keyPem: accountKeyPem, account } = await loadAccount(files);
  if (!account && directory.termsOfService && !s.agreeTos)
    throw new UsageError(
      `the CA's terms of service must be agreed to first: ${directory.termsOfService}`,
      'Read them, then pass --acme-agree-tos (once: the account is kept).',
    );
  const hmac = s.eabHmacFile
    ? (await readSmall(s.eabHmacFile, 'the EAB HMAC key')).trim()
    : process.env.XSOAR_CERT_ACME_EAB_HMAC?.trim();
  if (!account && directory.externalAccountRequired && !(s.eabKid && hmac))
    throw new UsageError(
      `the CA at ${s.directory} requires External Account Binding`,
      'Pass --acme-eab-kid KID and --acme-eab-hmac-file FILE (or XSOAR_CERT_ACME_EAB_HMAC) from your CA account.',
    );
  const { generateCsr } = await import('../../pki/generate.js');
  const request = await generateCsr({
    hosts: req.names,
    key: req.currentKeyPem ? { keyPem: req.currentKeyPem } : { type: 'ecdsa' },
  });
  const abort = new AbortController();
  const { onInterrupt } = await import('../../signals.js');
  const stopListening = onInterrupt(() => abort.abort(), 'removing the challenge responses');
  let publisher: Publisher | undefined;
  let chainPem: string;
  try {
    publisher = await makePublisher(kind, s, out);
    const pub = publisher;
    const got = await acme.obtainCertificate({
      directory,
      ca: tlsCa,
      accountKeyPem,
      accountUrl: account?.accountUrl,
      email: s.email,
      agreeTos: s.agreeTos,
      eab: !account && s.eabKid && hmac ? { kid: s.eabKid, hmacKey: hmac } : undefined,
      names: req.names,
      csrPem: request.csrPem,
      type: kind === 'http' || kind === 'webroot' ? 'http-01' : 'dns-01',
      replaces: req.replaces,
      publish: (cs) => pub.publish(cs, abort.signal),
      step: (m) => out.step(m),
      signal: abort.signal,
    });
    chainPem = got.chainPem;
    if (!account)
      saveAccount(files, accountKeyPem, {
        directory: s.directory,
        accountUrl: got.accountUrl,
        email: s.email,
        createdAt: new Date().toISOString(),
      });
  } finally {
    await publisher
      ?.cleanup()
      .catch((err: Error) => out.warn(`could not remove the challenge responses: ${err.message}`));
    stopListening();
  }
  if (abort.signal.aborted)
    throw new CancelledError(
      'Cancelled (Ctrl-C / SIGTERM) during the ACME order: the challenge responses were removed and nothing was changed.',
    );
  return verifyIssued(chainPem, request.keyPem, req, s.directory);
}

async function verifyIssued(chainPem: string, keyPem: string, req: AcmeRequest, from: string): Promise<NewContent> {
  const { parseBundle, readInputBytes } = await import('../../pki/parse.js');
  const { verifyLoaded } = await import('../verify-files.js');
  const { contentFrom } = await import('../content.js');
  const ca = req.trustCa ? parseBundle(await readInputBytes(req.trustCa), { source: req.trustCa }) : undefined;
  const v = await verifyLoaded(
    {
      cert: parseBundle(Buffer.from(chainPem), { source: 'the issued chain' }),
      key: parseBundle(Buffer.from(keyPem), { source: 'the new key' }),
      ca,
      caSource: req.trustCa,
    },
    { hosts: req.names },
  );
  if (!v.material) {
    const first = v.report.checks.find((c) => c.status === 'fail');
    const why = first?.message ?? 'it did not verify';
    throw new CaError(
      `the certificate the CA issued does not verify: ${why}`,
      req.trustCa ? 'Nothing was changed.' : 'If the CA is private, pass its root with --ca FILE. Nothing was changed.',
    );
  }
  return contentFrom(v.material, `a certificate from ${new URL(from).host}`);
}

interface Publisher {
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

/** Poll until every DNS-01 value is visible at `lookup`, up to 30 s; a value never seen is a CA-side failure we catch first. */
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
        `the DNS-01 record ${missing[0]!.recordName} does not hold the challenge value at ${where} after ${waitS} s: the CA would refuse it`,
        'Check the DNS hook or the update permissions for that name. Nothing was changed (the records were removed).',
      );
    await sleep(500, signal);
  }
}

async function makePublisher(
  kind: ReturnType<typeof challengeKind>,
  s: AcmeSettings,
  out: Reporter,
): Promise<Publisher> {
  if (kind === 'rfc2136') {
    const dns = await import('../../net/dns-update.js');
    const server = dns.parseServer(s.dnsRfc2136!, '--dns-rfc2136');
    const key = await dns.readTsigKey(s.dnsTsigKey!);
    const check = s.dnsCheck ? dns.parseServer(s.dnsCheck, '--dns-check') : server;
    const published: Array<{ zone: string; name: string; value: string }> = [];
    void out;
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
  if (kind === 'hook') return hookPublisher(s, out);
  if (kind === 'http') return httpPublisher(s.httpPort!, s.directory, out);
  return webrootPublisher(s.webroot!, s.directory, out);
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

async function httpPublisher(port: number, directory: string, out: Reporter): Promise<Publisher> {
  const http = await import('node:http');
  const tokens = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,256})$/.exec(req.url ?? '')?.[1];
    const body = token ? tokens.get(token) : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new UsageError(
          `--http-port ${port}: cannot listen (${e.code})`,
          e.code === 'EACCES'
            ? 'Ports below 1024 need root: use a high port that port 80 is forwarded to.'
            : 'Choose a free port.',
        ),
      ),
    );
    server.listen(port, () => resolve());
  });
  out.info(`  HTTP-01 responder listening on port ${port}`);
  return {
    async publish(cs) {
      for (const c of cs) tokens.set(await checkedToken(c, directory), c.value);
    },
    async cleanup() {
      tokens.clear();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
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
