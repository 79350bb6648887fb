// A certificate from an ACME CA (RFC 8555): one of the sources that hand the transaction engine
// the same NewContent. A new key every time (or the installed one with reuseKey), a CSR from the
// one generation module, the account stored in the state dir (0600) per directory URL, every
// challenge published and checked where the CA will look before any is answered, and always
// cleaned up (also on failure and Ctrl-C), deleting only our own values. The account's storage is
// acme-account.ts, the challenges acme-challenges.ts; here: the settings and the order.
import { CaError, CancelledError, UsageError } from '../../errors.js';
import type { Reporter } from '../reporter.js';
import type { NewContent } from '../txn/types.js';
import type { X509Certificate } from 'node:crypto';
import type { Directory } from '../../net/acme.js';
import { accountFiles, acmeServerCa, loadAccount, readSmall, saveAccount } from './acme-account.js';
import type { Account, AccountFiles } from './acme-account.js';
import { makePublisher, type Publisher } from './acme-challenges.js';

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
  /**
   * Where DNS-01 records are checked before the CA is asked (default: the RFC 2136 server, or the
   * system resolver).
   */
  dnsCheck?: string;
  httpPort?: number;
  webroot?: string;
  /** How long a DNS-01 record may take to show at the check server (--dns-wait, default 30 s). */
  dnsWaitS?: number;
  reuseKey?: boolean;
  /** A certificate profile the CA offers (draft-ietf-acme-profiles; e.g. Let's Encrypt's shortlived). */
  profile?: string;
}

export type ChallengeKind = 'rfc2136' | 'hook' | 'http' | 'webroot';

/** Which challenge, from the flags: exactly one. */
export function challengeKind(s: AcmeSettings): ChallengeKind {
  const kinds = [
    s.dnsRfc2136 && 'rfc2136',
    s.dnsHook && 'hook',
    s.httpPort !== undefined && 'http',
    s.webroot && 'webroot',
  ].filter(Boolean) as ChallengeKind[];
  if (kinds.length !== 1)
    throw new UsageError(
      kinds.length
        ? `--acme takes one challenge, not ${kinds.length}: ` +
            'choose one of --dns-rfc2136, --dns-hook, --http-port, --webroot'
        : '--acme needs a challenge: ' +
            '--dns-rfc2136 HOST --dns-tsig-key FILE, --dns-hook CMD, --http-port N or --webroot DIR',
    );
  if (kinds[0] === 'rfc2136' && !s.dnsTsigKey)
    throw new UsageError('--dns-rfc2136 needs --dns-tsig-key FILE (the key tsig-keygen wrote)');
  return kinds[0]!;
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
  const login = await accountLogin(s, directory, acme.accountSlug(s.directory));
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
      accountKeyPem: login.keyPem,
      accountUrl: login.account?.accountUrl,
      email: s.email,
      agreeTos: s.agreeTos,
      eab: login.eab,
      names: req.names,
      csrPem: request.csrPem,
      type: kind === 'http' || kind === 'webroot' ? 'http-01' : 'dns-01',
      replaces: req.replaces,
      profile: s.profile,
      publish: (cs) => pub.publish(cs, abort.signal),
      step: (m) => out.step(m),
      signal: abort.signal,
    });
    chainPem = got.chainPem;
    if (!login.account) saveNewAccount(s, login, got.accountUrl);
  } finally {
    await publisher
      ?.cleanup()
      .catch((err: Error) => out.warn(`could not remove the challenge responses: ${err.message}`));
    stopListening();
  }
  if (abort.signal.aborted)
    throw new CancelledError(
      'Cancelled (Ctrl-C / SIGTERM) during the ACME order: ' +
        'the challenge responses were removed and nothing was changed.',
    );
  return verifyIssued(chainPem, request.keyPem, req, s.directory);
}

interface Login {
  files: AccountFiles;
  keyPem: string;
  /** The stored account; undefined: a new one is registered with this order. */
  account?: Account;
  /** External Account Binding, for a new account at a CA that asks for it. */
  eab?: { kid: string; hmacKey: string };
}

/** The stored account (or a new key), refused before any order when a new one cannot be registered. */
async function accountLogin(s: AcmeSettings, directory: Directory, slug: string): Promise<Login> {
  const files = accountFiles(s.directory, slug);
  const { keyPem, account } = await loadAccount(files);
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
  const eab = !account && s.eabKid && hmac ? { kid: s.eabKid, hmacKey: hmac } : undefined;
  return { files, keyPem, account, eab };
}

function saveNewAccount(s: AcmeSettings, login: Login, accountUrl: string): void {
  saveAccount(login.files, login.keyPem, {
    directory: s.directory,
    accountUrl,
    email: s.email,
    createdAt: new Date().toISOString(),
  });
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
