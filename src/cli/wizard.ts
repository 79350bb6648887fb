// The install wizard: `xsoar-cert` with no arguments on a terminal, or `install --interactive`.
// Asks for the files (Tab completes paths), shows what it found and every verify result, asks
// for the names and the target, then hands over to the same install as the flags (which shows
// the plan and asks before changing anything). Ctrl-C at any prompt: exit 130, nothing changed.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError, CheckFailedError, NameChangeError } from '../errors.js';
import { Output, ce } from './output.js';
import { resolveSettings, type Settings } from '../ops/settings.js';
import { isK8sName } from '../k8s/names.js';
import { shQuote } from '../ops/schedule.js';
import type { InstallFlags } from './commands/install.js';
import type { VerifyFilesResult } from '../ops/verify-files.js';
import type { Bundle } from '../pki/types.js';

const NONE = '\u0000none';
const OTHER = '\u0000other';

const secretName = (v: string) =>
  isK8sName('secret', v.trim()) || 'Lower-case letters, digits, inner hyphens and dots (RFC 1123)';
const namespaceName = (v: string) =>
  isK8sName('namespace', v.trim()) || 'Lower-case letters, digits and inner hyphens (RFC 1123), at most 63';

/** The TLS secrets of the namespace to choose from (backups left out); typed in when none can be listed. */
async function askSecret(namespace: string, s: Settings): Promise<string> {
  const { Kubectl } = await import('../k8s/kubectl.js');
  const k = new Kubectl({ namespace, context: s.context, kubeconfig: s.kubeconfig, timeoutMs: 15_000 });
  const { isBackupName } = await import('../ops/targets/k8s-secret/plan.js');
  // Unreachable or not allowed: typed in, and the install's preflight will say what is wrong.
  const names = (await k.tlsSecretNames().catch(() => [] as string[])).filter((n) => !isBackupName(n));
  if (names.length === 0) return askText('TLS secret:', s.secret, secretName);
  const { select } = await import('@inquirer/prompts');
  const ordered = [...names.filter((n) => n === s.secret), ...names.filter((n) => n !== s.secret).sort()];
  const pick = await select<string>(
    {
      message: `TLS secret in ${namespace}:`,
      choices: [...ordered.map((n) => ({ name: n, value: n })), { name: '(another name)', value: OTHER }],
      default: ordered[0],
    },
    { output: process.stderr },
  );
  return pick === OTHER ? askText('TLS secret:', s.secret, secretName) : pick;
}

/** Completion candidates for a partly typed path: the entries of its folder that start with its last part. */
export function pathCandidates(
  term: string | undefined,
  cwd = process.cwd(),
  home = process.env.HOME ?? '',
): Array<{ name: string; value: string; isDir: boolean }> {
  // `~/` is the shell's home folder; the candidates carry the expanded path.
  const typed = home && (term === '~' || term?.startsWith('~/')) ? home + term.slice(1) : (term ?? '');
  const dirPart = typed.endsWith('/')
    ? typed
    : path.dirname(typed) === '.' && !typed.startsWith('./')
      ? ''
      : path.dirname(typed) + '/';
  const base = typed.slice(dirPart.length);
  let entries: string[];
  try {
    entries = readdirSync(path.resolve(cwd, dirPart || '.'));
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.startsWith(base) && (base.startsWith('.') || !e.startsWith('.')))
    .sort()
    .slice(0, 200)
    .map((e) => {
      let isDir = false;
      try {
        isDir = statSync(path.resolve(cwd, dirPart, e)).isDirectory();
      } catch {
        /* a dangling link: offer it as a file, the reader will say what is wrong */
      }
      const name = dirPart + e + (isDir ? '/' : '');
      return { name, value: name, isDir };
    });
}

async function askFile(message: string, opts: { optional?: string } = {}): Promise<string | undefined> {
  const { search } = await import('@inquirer/prompts');
  const value = await search<string>(
    {
      message,
      source: (term) => {
        const files = pathCandidates(term).map(({ name, value }) => ({ name, value }));
        return opts.optional && !term ? [{ name: ce.dim(opts.optional), value: NONE }, ...files] : files;
      },
      // Enter on a folder completes it (like Tab) instead of choosing it.
      validate: (v) =>
        v === NONE ||
        (statSync(v, { throwIfNoEntry: false })?.isFile() ?? false) ||
        'Choose a file (Tab completes a path)',
      pageSize: 8,
      instructions: {
        navigation: 'type a path, Tab completes, ↑↓ choose',
        pager: 'type a path, Tab completes, ↑↓ choose',
      },
    },
    { output: process.stderr },
  );
  return value === NONE ? undefined : value;
}

async function askText(message: string, dflt?: string, validate?: (v: string) => true | string): Promise<string> {
  const { input } = await import('@inquirer/prompts');
  return (await input({ message, default: dflt, validate }, { output: process.stderr })).trim();
}

type Install = (flags: InstallFlags, pre: VerifyFilesResult) => Promise<void>;

/** What the wizard learnt about the files. */
interface Files {
  cert: string;
  key?: string;
  chain: string[];
  ca?: string;
  certBundle: Bundle;
}

/** Ask for what the flags leave out, verify, then hand over to `install` (the same as the flags'). */
export async function runWizard(flags: InstallFlags, install: Install): Promise<void> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError(
      'the install wizard needs a terminal',
      'Without one, give the flags: xsoar-cert install --cert FILE --key FILE [--chain FILE] [--ca FILE] ' +
        '--host NAME --endpoint HOST:PORT --yes',
    );
  }
  if (flags.json)
    throw new UsageError(
      '--interactive cannot be combined with --json',
      'Give the flags instead of answering questions.',
    );
  const out = new Output({ quiet: false });
  out.info(
    ce.bold('Replace the HTTPS certificate of a tenant.') +
      ' Ctrl-C at any question stops with nothing changed; "xsoar-cert --help" lists every command.',
  );
  await showPending(out);
  const files = await askFiles(flags, out);
  if (!files) return makeRequest(out);
  const { hosts, pre } = await askHostsAndVerify(flags, files, out);
  const final = await askTarget(flags, files, hosts, out);
  await installAsking(final, pre, install, out);
}

/** A request made earlier (xsoar-cert csr) waits for its signed certificate. */
async function showPending(out: Output): Promise<void> {
  const { listRequests } = await import('../ops/requests.js');
  const pending = listRequests();
  if (!pending.length) return;
  const list = pending.map((r) => `${r.id} for ${r.names.join(', ')} (${r.created.slice(0, 10)})`).join('; ');
  out.info(
    `Pending certificate request${pending.length > 1 ? 's' : ''}: ${list}. ` +
      'Give the certificate your CA signed: its key is found here.',
  );
}

/** One line per certificate found in a file: its role, subject, names and expiry. */
async function showFound(out: Output, file: string, certs: Bundle['certs']): Promise<void> {
  const { describeCert } = await import('../pki/describe.js');
  for (const c of certs.map((x) => describeCert(x))) {
    const role = !c.isCA ? 'leaf' : c.selfSigned ? 'root CA' : 'intermediate CA';
    const names = !c.isCA ? `; names ${[...c.dnsNames, ...c.ipAddresses].join(', ') || '(none)'}` : '';
    const expires = `expires ${c.notAfter.slice(0, 10)} (${c.daysLeft} days)`;
    out.info(`  found in ${file}: ${role} ${c.subject}${names}; ${expires}`);
  }
}

/** The certificate, key, chain and root files; undefined when there is no certificate yet. */
async function askFiles(flags: InstallFlags, out: Output): Promise<Files | undefined> {
  const { readBundleWithPassphrase } = await import('../ops/inputs.js');
  const pass = { file: flags.passphraseFile };
  const cert =
    flags.cert ??
    (await askFile('Certificate file (PEM, DER, PKCS#12 or .p7b):', {
      optional: '(none yet: make a certificate request for your CA)',
    }));
  if (!cert) return undefined;
  const certBundle = await readBundleWithPassphrase(cert, pass);
  if (!certBundle.certs.length)
    throw new UsageError(
      `${cert}: holds no certificate`,
      'Choose the file with the certificate (it may also hold the chain and key).',
    );
  await showFound(out, cert, certBundle.certs);
  const key = await askKey(flags, cert, certBundle, out);
  const chain = [...flags.chain];
  if (!chain.length && certBundle.certs.length < 2) {
    for (;;) {
      const f = await askFile(chain.length ? 'Another intermediate file?' : 'Intermediate certificate file(s)?', {
        optional: chain.length ? '(no more)' : '(none: the certificate file holds the chain, or there is none)',
      });
      if (!f) break;
      await showFound(out, f, (await readBundleWithPassphrase(f, pass)).certs);
      chain.push(f);
    }
  }
  const ca = flags.ca ?? (await askFile('Root CA file?', { optional: "(none: trust the system's root store)" }));
  if (ca && !flags.ca) await showFound(out, ca, (await readBundleWithPassphrase(ca, pass)).certs);
  return { cert, key, chain, ca, certBundle };
}

/** The key: in the certificate file, a pending request's, or a file asked for (and described). */
async function askKey(flags: InstallFlags, cert: string, certBundle: Bundle, out: Output): Promise<string | undefined> {
  const { pendingKeyFor } = await import('../ops/requests.js');
  const { describeCert, keyMatchesCert } = await import('../pki/describe.js');
  let key = flags.key;
  const completes =
    !key && !certBundle.keys.length ? certBundle.certs.map((c) => pendingKeyFor(c.cert)).find(Boolean) : undefined;
  if (!key && certBundle.keys.length) out.info(`  found in ${cert}: the private key`);
  else if (completes) {
    const r = completes.request;
    out.info(
      `  the private key: pending request ${r.id} (made ${r.created.slice(0, 10)} for ${r.names.join(', ')}), ` +
        'kept on this host',
    );
  } else if (!key) key = await askFile('Private key file:');
  if (key && key !== cert) {
    const { readBundleWithPassphrase } = await import('../ops/inputs.js');
    const kb = await readBundleWithPassphrase(key, { file: flags.passphraseFile });
    const match = kb.keys[0] && certBundle.certs.find((c) => keyMatchesCert(kb.keys[0]!.key, c.cert));
    const what = match ? `, matching ${describeCert(match).subject}` : ' that matches no certificate in ' + cert;
    out.info(`  found in ${key}: ${kb.keys.length ? `a private key${what}` : 'no private key'}`);
  }
  return key;
}

/** The names the tenant is reached by, then every check (shown; a failure stops here). */
async function askHostsAndVerify(
  flags: InstallFlags,
  f: Files,
  out: Output,
): Promise<{ hosts: string[]; pre: VerifyFilesResult }> {
  const { describeCert } = await import('../pki/describe.js');
  const leafNames = f.certBundle.certs.map((x) => describeCert(x)).find((c) => !c.isCA)?.dnsNames ?? [];
  const hostsAnswer = flags.host.length
    ? flags.host.join(',')
    : await askText(
        'Names the tenant is reached by (comma separated):',
        leafNames.filter((n) => !n.startsWith('*')).join(','),
        (v) => v.trim() !== '' || 'At least one name or IP',
      );
  const hosts = hostsAnswer.split(/[,\s]+/).filter(Boolean);
  out.step('Verify');
  const { verifyFiles } = await import('../ops/verify-files.js');
  const { cert, key, chain, ca } = f;
  const pre = await verifyFiles({ cert, key, chain, ca, hosts, passphraseFile: flags.passphraseFile });
  const { printChecks } = await import('./print-checks.js');
  printChecks(out, pre.report);
  if (!pre.report.ok)
    throw new CheckFailedError(
      `${cert}: not fit to serve: ${pre.report.failures} check(s) failed; nothing was changed`,
      `Fix the problems above, then run "xsoar-cert install --interactive" again.`,
    );
  return { hosts, pre };
}

/** The tenant: namespace, secret and endpoint; then the same install as a command line. */
async function askTarget(flags: InstallFlags, f: Files, hosts: string[], out: Output): Promise<InstallFlags> {
  const s = resolveSettings(flags);
  const namespace = await askText('Tenant namespace:', s.namespace, namespaceName);
  const secret = await askSecret(namespace, s);
  const endpoint = await askText(
    'Endpoint to confirm the live certificate (host:port, empty to skip):',
    s.endpoint ?? (hosts[0] ? `${hosts[0]}:443` : undefined),
  );
  const { cert, key, chain, ca } = f;
  const cmd = [
    ...['xsoar-cert', 'install', '--cert', cert],
    ...(key ? ['--key', key] : []),
    ...chain.flatMap((c) => ['--chain', c]),
    ...(ca ? ['--ca', ca] : []),
    ...hosts.flatMap((h) => ['--host', h]),
    ...['-n', namespace, '--secret', secret],
    ...(endpoint ? ['--endpoint', endpoint] : []),
  ];
  out.info(ce.dim(`The same without questions: ${cmd.map(shQuote).join(' ')} --yes`));
  const target = { namespace: [namespace], secret, endpoint: endpoint || undefined };
  return { ...flags, interactive: false, cert, key, chain, ca, host: hosts, ...target };
}

/** The install shows the plan and asks before changing anything; a dropped name is asked about here. */
async function installAsking(
  final: InstallFlags,
  pre: VerifyFilesResult,
  install: Install,
  out: Output,
): Promise<void> {
  try {
    await install(final, pre);
  } catch (err) {
    // Nothing has changed yet (the names are checked in the read-only preflight): ask, then go on.
    if (!(err instanceof NameChangeError) || final.allowNameChange) throw err;
    out.warn(err.message);
    const { confirmPrompt } = await import('./prompts.js');
    const question = `Clients that use ${err.missing.join(', ')} would break. Install anyway (--allow-name-change)?`;
    if (!(await confirmPrompt(question))) throw err;
    await install({ ...final, allowNameChange: true }, pre);
  }
}

/** The wizard's other road: no certificate yet, so make the key here and a request for the CA. */
async function makeRequest(out: Output): Promise<void> {
  const names = await askText(
    'Names the certificate must cover (comma separated; the first is the CN):',
    undefined,
    (v) => v.trim() !== '' || 'At least one name or IP',
  );
  const org = await askText(
    'More of the subject, if your PKI team wants it (e.g. O=Example Corp,C=DE; empty for none):',
    '',
  );
  const { runCsr } = await import('./commands/csr.js');
  await runCsr({ host: names.split(/[,\s]+/).filter(Boolean), subject: org || undefined, namespace: [] });
  out.info(
    'When the signed certificate comes back, run "xsoar-cert" again ' +
      '(or xsoar-cert install --cert signed.crt): the key is found here.',
  );
}
