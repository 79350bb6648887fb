// `xsoar-cert audit`: the append-only, hash-chained log of every change.
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';
import type { Output } from '../output.js';

export function register(program: Command): void {
  program
    .command('audit')
    .description('show the audit log of installs, rollbacks and renewals; --verify checks it was not edited')
    .option(
      '--verify',
      'check the hash chain and the anchors every change wrote into the cluster (exit 1 on any difference)',
    )
    .option('--local-only', 'with --verify: check the file alone (a log cut short or rewritten whole then goes unseen)')
    .option('--context <name>', 'with --verify: the kubeconfig context whose anchors to read')
    .option('--kubeconfig <file>', 'with --verify: the kubeconfig to use')
    .option('--limit <n>', 'show only the last N records (after the filters)')
    .option('-n, --namespace <ns>', 'only this tenant namespace (repeatable)', collect, [])
    .option('--op <op>', 'only install, rollback, renew, resolve or notify records')
    .option('--since <when>', 'only records since a time: 7d, 12h, 30m, or an ISO date')
    .option('--failed', 'only failures (failed, rolled-back, rollback-failed)')
    .option('--json', 'print the records (or the verification) as JSON')
    .addHelpText(
      'after',
      helpAfter(
        'xsoar-cert audit --limit 20',
        'xsoar-cert audit --verify',
        'xsoar-cert audit --verify -n tenant-3',
        'xsoar-cert audit --failed --since 7d',
        'xsoar-cert audit -n tenant-3 --op renew',
        'XSOAR_CERT_STATE_DIR=/var/lib/xsoar-cert xsoar-cert audit --json',
      ),
    )
    .action(async (flags: AuditFlags) => runAudit(flags));
}

interface AuditFlags {
  verify?: boolean;
  localOnly?: boolean;
  context?: string;
  kubeconfig?: string;
  limit?: string;
  json?: boolean;
  namespace: string[];
  op?: string;
  since?: string;
  failed?: boolean;
}

const OPS = ['install', 'rollback', 'renew', 'resolve', 'notify'] as const;

async function runAudit(flags: AuditFlags): Promise<void> {
  const { readAudit, auditFile, filterAudit, parseSince } = await import('../../audit/log.js');
  const { Output } = await import('../output.js');
  const { UsageError } = await import('../../errors.js');
  const out = new Output({ json: flags.json });
  const file = auditFile();
  if (flags.verify) return verify(flags, out);
  const limit = flags.limit === undefined ? undefined : Number(flags.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new UsageError(`--limit takes a positive whole number, not "${flags.limit}"`);
  if (flags.op !== undefined && !(OPS as readonly string[]).includes(flags.op))
    throw new UsageError(`--op takes ${OPS.join(', ')}, not "${flags.op}"`);
  const since = flags.since === undefined ? undefined : parseSince(flags.since);
  if (flags.since !== undefined && !since)
    throw new UsageError(`--since takes 7d, 12h, 30m or an ISO date, not "${flags.since}"`);
  const records = filterAudit(readAudit(file).records, {
    namespaces: flags.namespace,
    op: flags.op as (typeof OPS)[number] | undefined,
    since,
    failed: flags.failed,
  });
  const shown = limit ? records.slice(-limit) : records;
  if (flags.json) return out.emit(shown);
  if (shown.length === 0)
    return out.result(readAudit(file).records.length ? `no record in ${file} matches` : `no records yet in ${file}`);
  for (const r of shown) {
    const from = r.sshClient ? ' from ' + r.sshClient : '';
    const change = `${(r.oldFingerprint ?? '-').slice(0, 11)} → ${(r.newFingerprint ?? '-').slice(0, 11)}`;
    out.result(
      `${r.ts}  ${r.op.padEnd(8)} ${String(r.result).padEnd(16)} ${r.namespace}/${r.secret}  ${r.user}${from}  ` +
        `${change}  ${r.durationMs} ms${r.error ? '  ' + r.error : ''}`,
    );
  }
}

async function verify(
  flags: { localOnly?: boolean; context?: string; kubeconfig?: string; namespace: string[] },
  out: Output,
): Promise<void> {
  const { verifyAuditLog } = await import('../../ops/audit-verify.js');
  const { resolveSettings } = await import('../../ops/settings.js');
  const { CheckFailedError } = await import('../../errors.js');
  const s = flags.localOnly
    ? undefined
    : resolveSettings({
        namespace: flags.namespace.length ? flags.namespace : undefined,
        context: flags.context,
        kubeconfig: flags.kubeconfig,
      });
  const namespaces = s ? [...new Set([...flags.namespace, s.namespace])] : [];
  const v = await verifyAuditLog({
    localOnly: flags.localOnly,
    namespaces,
    context: s?.context,
    kubeconfig: s?.kubeconfig,
  });
  out.emit(v);
  const hint =
    "The audit log was tampered with or damaged; keep a copy (and the secrets' annotations) for investigation.";
  if (!v.ok) throw new CheckFailedError(`${v.file}: record ${v.problem!.line} ${v.problem!.what}`, hint);
  if (v.anchors?.problems.length) {
    for (const p of v.anchors.problems.slice(0, -1)) out.warn(p);
    throw new CheckFailedError(`${v.file}: ${v.anchors.problems.at(-1)}`, hint);
  }
  const anchors = v.anchors
    ? `; ${v.anchors.checked} cluster anchor(s) match (${v.anchors.scope})`
    : '; cluster anchors not checked (--local-only)';
  out.result(`${v.file}: ${v.records} record(s), hash chain intact${anchors}`);
}
