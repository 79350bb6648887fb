// The transaction for certificate files on this host: the one engine (txn/engine.ts) with the
// PEM-files target, for install, rollback and renew; and what status reads for a set of files. A marker
// a killed run left is finished first (recovery.ts), as for a secret.
import { BusyError, CancelledError, InputError } from '../../../errors.js';
import type { Reporter } from '../../reporter.js';
import { runEngine, type EngineOptions } from '../../txn/engine.js';
import type { Change, NewContent, PendingContent, TransactionResult } from '../../txn/types.js';
import { fingerprintOfPem } from '../../installed.js';
import { fetchServedChain } from '../../../net/served-cert.js';
import { readMarker } from '../../state.js';
import { pemFiles, type FilesTargetOptions } from './index.js';
import { digestOf, FILES_NS, filesId, type FilePaths, type VerbatimFile } from './plan.js';
import { resolveFilesMarker } from './recovery.js';
import { readFound, lookupOwner } from './steps.js';
import { readBackup, readRecord, type FilesRecord } from './store.js';
import type { FileTarget } from './presets.js';
import { verifyFiles, type VerifyFilesOptions } from '../../verify-files.js';
import { contentFrom } from '../../content.js';
import type { VerifyReport } from '../../../pki/types.js';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { namesOf, type Installed } from '../../sources/types.js';

export interface FilesRunOptions extends Omit<EngineOptions, 'targets' | 'confirm'> {
  target: FileTarget;
  endpoint?: string;
  proceed?: (c: Change) => Promise<boolean>;
}

export const where = (p: FilePaths) => (p.key ? `${p.cert}, ${p.key}` : p.cert);

/** Run the engine on one set of files; a failure is thrown (its error carries the exit code). */
async function transact(
  o: FilesRunOptions,
  content: NewContent | PendingContent,
  extra: Partial<FilesTargetOptions>,
  out: Reporter,
): Promise<TransactionResult> {
  const { target: ft, endpoint, proceed, ...rest } = o;
  const resolved = await resolveFilesMarker(ft.paths, out, {
    endpoint,
    servername: o.servername,
    timeoutS: o.timeoutS,
    dryRun: o.dryRun,
    restartCmd: ft.restartCmd,
  });
  if (resolved === 'running')
    throw new BusyError(`another xsoar-cert run is changing ${where(ft.paths)}`, 'Wait for it to finish.');
  const kind = pemFiles({
    paths: ft.paths,
    owner: ft.owner ? lookupOwner(ft.owner) : undefined,
    modes: ft.modes,
    restartCmd: ft.restartCmd,
    servername: o.servername,
    withCa: ft.withCa,
    ...extra,
  });
  const target = { namespace: FILES_NS, secret: filesId(ft.paths), endpoint, content };
  const [r] = await runEngine({ ...rest, targets: [target], confirm: proceed && ((c) => proceed(c)) }, kind, out);
  if (!r!.ok) throw r!.error;
  if (r!.value!.result === 'cancelled') throw new CancelledError();
  return r!.value!;
}

/** install --files: the verified certificate into the files. */
export function installFiles(o: FilesRunOptions, content: NewContent, out: Reporter): Promise<TransactionResult> {
  out.step(`Target: ${where(o.target.paths)}`);
  for (const n of o.target.notes) out.warn(n);
  return transact(o, content, {}, out);
}

/** rollback --files: a kept version back, byte for byte (the newest that differs from the files now, or --to). */
export async function rollbackFiles(
  o: FilesRunOptions & { to?: string },
  out: Reporter,
): Promise<{ result: TransactionResult; from: string; fingerprint: string } | { resolved: true }> {
  const p = o.target.paths;
  const resolved = await resolveFilesMarker(p, out, {
    endpoint: o.endpoint,
    servername: o.servername,
    dryRun: o.dryRun,
    restartCmd: o.target.restartCmd,
  });
  if (resolved === 'resolved' && !o.to) return { resolved: true };
  const record = readRecord(filesId(p));
  const now = digestOf([p.cert, ...(p.key ? [p.key] : [])].map(readFound));
  const chosen = o.to ? record?.backups.find((b) => b.name === o.to) : record?.backups.find((b) => b.digest !== now);
  const files = chosen && readBackup(chosen.name, chosen.digest);
  if (!chosen || !files)
    throw new InputError(
      o.to ? `${o.to}: no such kept version of ${where(p)}` : `no previous version of ${where(p)} to roll back to`,
      { hint: `Kept versions: ${record?.backups.map((b) => b.name).join(', ') || 'none'} (see status --files).` },
    );
  const content = keptContent(files, chosen.name);
  // The kept version goes back with its own owner and modes: --owner and --mode do not apply.
  const target = {
    ...o.target,
    owner: undefined,
    modes: undefined,
    restartCmd: o.target.restartCmd ?? record?.restartCmd,
  };
  const result = await transact({ ...o, target, allowNameChange: true }, content, { verbatim: files }, out);
  return { result, from: chosen.name, fingerprint: content.fingerprint };
}

/**
 * renew --files: the certificate the files hold now, after a killed run's marker is finished (so the
 * decision is made on what the service reads). The key stays in memory, for an ACME --reuse-key.
 */
export async function readInstalledFiles(o: FilesRunOptions, out: Reporter): Promise<Installed> {
  const p = o.target.paths;
  out.step(`Target: ${where(p)}`);
  for (const n of o.target.notes) out.warn(n);
  const resolved = await resolveFilesMarker(p, out, {
    endpoint: o.endpoint,
    servername: o.servername,
    timeoutS: o.timeoutS,
    dryRun: o.dryRun,
    restartCmd: o.target.restartCmd,
  });
  if (resolved === 'running')
    throw new BusyError(`another xsoar-cert run is changing ${where(p)}`, 'Wait for it to finish.');
  const certText = readFound(p.cert).bytes.toString('latin1');
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certText)?.[0];
  let leaf: X509Certificate | undefined;
  try {
    leaf = pem ? new X509Certificate(pem) : undefined;
  } catch {
    leaf = undefined;
  }
  if (!leaf)
    throw new InputError(`${p.cert}: holds no certificate to renew`, {
      file: p.cert,
      hint: 'Install one first with xsoar-cert install --files.',
    });
  const keyText = p.key ? readFound(p.key).bytes.toString('latin1') : certText;
  return { where: where(p), leaf, names: namesOf(leaf), keyPem: pkcs8(keyText) };
}

/** The key block of a PEM text as PKCS#8, or undefined (none, encrypted, or not a key). */
function pkcs8(text: string): string | undefined {
  const block = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/.exec(text)?.[0];
  if (!block) return undefined;
  try {
    return createPrivateKey(block).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    return undefined;
  }
}

/** renew --files: the source's certificate into the files, obtained by the engine once every check passed. */
export function renewFiles(o: FilesRunOptions, content: PendingContent, out: Reporter): Promise<TransactionResult> {
  return transact(o, content, {}, out);
}

function keptContent(files: VerbatimFile[], name: string): NewContent {
  const certFile = files.find((f) => f.role !== 'key')!;
  const facts = fingerprintOfPem(certFile.data.toString('latin1'));
  if (!facts) throw new InputError(`kept version ${name} holds no certificate`);
  return { data: {}, ...facts, label: `kept version ${name}` };
}

export interface FilesStatus {
  files: { path: string; uid: number; gid: number; mode: string }[];
  installed?: { fingerprint: string; notAfter: string; names: string[] };
  served?: { endpoint: string; fingerprint?: string; error?: string };
  agree?: boolean;
  previous: FilesRecord['backups'];
  restartCmd?: string;
  interrupted?: string;
}

/** status --files: what the files hold, what the endpoint serves, the kept versions; a killed run is finished first. */
export async function filesStatus(t: FileTarget, endpoint: string | undefined, out: Reporter): Promise<FilesStatus> {
  const p = t.paths;
  const resolved = await resolveFilesMarker(p, out, { endpoint, restartCmd: t.restartCmd });
  const id = filesId(p);
  const record = readRecord(id);
  const found = [p.cert, ...(p.key ? [p.key] : [])].map(readFound);
  const installed = fingerprintOfPem(found[0]!.bytes.toString('latin1'));
  const ep = endpoint ?? record?.endpoint;
  let served: FilesStatus['served'];
  if (ep) served = await servedNow(ep, record?.servername, installed?.fingerprint);
  const running = resolved === 'running' ? readMarker(FILES_NS, id) : undefined;
  return {
    files: found.map((f) => ({ path: f.path, uid: f.uid, gid: f.gid, mode: `0${f.mode.toString(8)}` })),
    installed,
    served,
    agree: served?.fingerprint && installed ? served.fingerprint === installed.fingerprint : undefined,
    previous: record?.backups ?? [],
    restartCmd: record?.restartCmd,
    ...(running ? { interrupted: `a run (pid ${running.pid}) is changing these files now` } : {}),
  };
}

/** install --files: verify the files as install does (every check, the loopback handshakes); nothing changes. */
export async function verifyForFiles(
  files: VerifyFilesOptions & { cert: string },
  out: Reporter,
): Promise<{ ok: true; content: NewContent } | { ok: false; report: VerifyReport }> {
  out.step(`Verify: ${files.cert}`);
  const { report, material } = await verifyFiles(files);
  if (!report.ok || !material) return { ok: false, report };
  out.ok(
    `verified: ${material.leaf.subject}, expires ${material.leaf.notAfter}, ${report.warnings} warning(s); ` +
      'TLS 1.2 and 1.3 handshakes OK',
  );
  for (const c of report.checks.filter((x) => x.status === 'warn')) out.warn(c.message);
  return { ok: true, content: contentFrom(material, files.cert) };
}

/**
 * What the endpoint serves. A reload just sent (by a run, or the resolution above) lets the old
 * workers answer for a moment (nginx: until they take the master's QUIT), so a difference is read
 * again for up to 2 s before it is reported.
 */
async function servedNow(ep: string, servername: string | undefined, installed: string | undefined) {
  let served: NonNullable<FilesStatus['served']> = { endpoint: ep };
  for (let i = 0; i < 9; i++) {
    if (i) await new Promise((r) => setTimeout(r, 250));
    try {
      const s = await fetchServedChain(ep, { servername, timeoutMs: 4000 });
      served = { endpoint: ep, fingerprint: s.chain[0]?.fingerprint256 };
    } catch (err) {
      served = { endpoint: ep, error: (err as Error).message };
    }
    if (!installed || served.fingerprint === installed) break;
  }
  return served;
}
