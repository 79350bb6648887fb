import { UsageError, CheckFailedError } from '../../errors.js';
import { Output } from '../output.js';
import { resolveSettings } from '../../ops/settings.js';
import { verifyFiles, type VerifyFilesResult } from '../../ops/verify-files.js';
import { Kubectl } from '../../k8s/kubectl.js';
import { executeTransaction } from '../../ops/txn/run.js';
import type { Change } from '../../ops/txn/types.js';
import type { Plan } from '../../ops/targets/k8s-secret/plan.js';
import { readPreflight } from '../../ops/targets/k8s-secret/steps.js';
import { resolveMarker } from '../../ops/targets/k8s-secret/recovery.js';
import { readMarker } from '../../ops/state.js';
import type { InstallFlags } from './install.js';

import { contentFrom } from '../../ops/content.js';

/** The certificate completed a pending request and is installed everywhere: its key now lives in the secret. */
async function completeRequest(id: number | undefined, flags: InstallFlags, out: Output): Promise<void> {
  if (id === undefined || flags.dryRun) return;
  if (flags.keepRequest) {
    out.info(`pending request ${id} is kept (--keep-request)`);
    return;
  }
  const { completeRequest: done } = await import('../../ops/requests.js');
  done(id, out);
}

export async function askToProceed(c: Change, out: Output, yes?: boolean): Promise<boolean> {
  if (yes || !process.stdin.isTTY || !process.stderr.isTTY) return true; // cron and scripts never prompt
  out.info('The plan:');
  c.steps.forEach((s, i) => out.info(`  ${i + 1}. ${s}`));
  out.info('  on any failure: put the current secret back and restart again.');
  const { confirmPrompt } = await import('../prompts.js');
  return confirmPrompt('Proceed?');
}

export async function runInstall(flags: InstallFlags, pre?: VerifyFilesResult): Promise<void> {
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  if (flags.interactive && !pre) {
    const { runWizard } = await import('../wizard.js');
    return runWizard(flags);
  }
  if (!flags.cert)
    throw new UsageError(
      'install needs --cert FILE (and --key FILE)',
      'Example: xsoar-cert install --cert tenant.pem --key tenant-key.pem --host xsoar.example.com (or, on a terminal, xsoar-cert install --interactive)',
    );
  const { parseTimeout } = await import('../target-flags.js');
  const timeoutS = parseTimeout(flags.timeout);
  const settings = resolveSettings(flags);
  // One tenant and no interrupted run to resolve: start the read-only cluster preflight now, so the
  // kubectl start-ups overlap the verification (a failed verify still reports first; the reads change nothing).
  const single = !flags.allNamespaces && !flags.tenantsFile && (flags.namespace?.length ?? 0) <= 1;
  const early =
    single && !flags.dryRun && !readMarker(settings.namespace, settings.secret)
      ? readPreflight(
          new Kubectl({ namespace: settings.namespace, context: settings.context, kubeconfig: settings.kubeconfig }),
          settings.secret,
        )
      : undefined;
  early?.catch(() => undefined); // reported by the transaction that awaits it
  const verifiedByWizard = pre !== undefined;
  if (!verifiedByWizard) out.step(`Verify: ${flags.cert}`);
  pre ??= await verifyFiles({
    cert: flags.cert,
    key: flags.key,
    chain: flags.chain,
    ca: flags.ca,
    hosts: flags.host,
    passphraseFile: flags.passphraseFile,
  });
  const { report, material } = pre;
  if (!report.ok || !material) {
    const { printChecks } = await import('../print-checks.js');
    if (!flags.json) printChecks(new Output({ quiet: false }), report);
    else out.emit({ ok: false, stage: 'verify', report });
    if (!flags.key && !report.checks.some((c) => c.id === 'key-match' && c.status !== 'skip')) {
      const { describePending } = await import('../../ops/requests.js');
      throw new UsageError(
        `install needs --key FILE: ${flags.cert} holds no key, and no pending certificate request matches it (${describePending()})`,
        'Pass the key with --key, or the certificate issued for a pending request (xsoar-cert csr --list).',
      );
    }
    throw new CheckFailedError(
      `${flags.cert}: not fit to serve: ${report.failures} check(s) failed; nothing was changed`,
      'Fix the problems above, or run "xsoar-cert verify" for details.',
    );
  }
  if (!verifiedByWizard)
    out.ok(
      `verified: ${material.leaf.subject}, expires ${material.leaf.notAfter}, ${report.warnings} warning(s); TLS 1.2 and 1.3 handshakes OK`,
    );
  const request = pre.request;
  if (request) out.info(request.using);
  if (!verifiedByWizard) {
    for (const c of report.checks.filter((x) => x.status === 'warn')) out.warn(c.message);
    // What the served chain leaves out of the files, and why (said, not done silently).
    for (const c of report.checks.filter((x) => x.status === 'info' && x.id !== 'request')) out.info(`· ${c.message}`);
  }
  const kubectl = new Kubectl({
    namespace: settings.namespace,
    context: settings.context,
    kubeconfig: settings.kubeconfig,
  });
  const { resolveTargets, parseParallel, fleetTable } = await import('../../ops/fleet.js');
  const parallel = parseParallel(flags.parallel);
  const targets = await resolveTargets(
    {
      namespace: flags.namespace,
      allNamespaces: flags.allNamespaces,
      selector: flags.selector,
      tenantsFile: flags.tenantsFile,
    },
    { namespace: settings.namespace, secret: settings.secret },
    kubectl,
  );
  if (targets.length > 1) {
    // Many tenants: ask once, then one transaction per tenant; a failure rolls back that tenant only.
    if (!flags.dryRun && !flags.yes && process.stdin.isTTY && process.stderr.isTTY) {
      const { confirmPrompt } = await import('../prompts.js');
      if (!(await confirmPrompt(`Install ${material.leaf.sha256.slice(0, 23)}… on ${targets.length} tenants?`))) {
        const { CancelledError } = await import('../../errors.js');
        throw new CancelledError();
      }
    }
    // Markers left by a killed run are resolved first (a file check; kubectl only when one exists).
    const quiet = new Output({ quiet: true, json: flags.json });
    for (const t of targets) {
      const k = new Kubectl({ namespace: t.namespace, context: settings.context, kubeconfig: settings.kubeconfig });
      if (
        (await resolveMarker(k, t.namespace, t.secret, quiet, { endpoint: t.endpoint, dryRun: flags.dryRun })) ===
        'running'
      ) {
        const { BusyError } = await import('../../errors.js');
        throw new BusyError(`another xsoar-cert run is changing ${t.namespace}/${t.secret}`, 'Wait for it to finish.');
      }
    }
    // One batched transaction: each step is one kubectl call for every tenant.
    const { executeFleetTransaction } = await import('../../ops/txn/run.js');
    const results = await executeFleetTransaction(
      {
        targets,
        proxy: settings.proxy,
        servername: settings.servername ?? flags.host[0],
        context: settings.context,
        content: contentFrom(material, flags.cert),
        allowNameChange: flags.allowNameChange,
        noConfirm: flags.confirm === false,
        dryRun: flags.dryRun,
        timeoutS,
        parallel,
      },
      kubectl,
      flags.json ? quiet : out,
    );
    if (flags.json)
      out.emit({
        ok: results.every((r) => r.ok),
        tenants: results.map((r) => ({
          namespace: r.target.namespace,
          secret: r.target.secret,
          ok: r.ok,
          exitCode: r.exitCode ?? 0,
          error: r.error,
          result: r.value?.result,
          backup: r.value?.backup,
          confirmed: r.value?.confirmed,
          ms: r.ms,
        })),
      });
    else
      out.result(
        fleetTable(
          results,
          (v) => `${v.result}${v.confirmed ? ', confirmed live' : ''}${v.backup ? `, backup ${v.backup}` : ''}`,
        ),
      );
    const failed = results.filter((r) => !r.ok).length;
    if (failed) {
      const { PartialError } = await import('../../errors.js');
      throw new PartialError(
        `${failed} of ${targets.length} tenants failed (each was rolled back or left unchanged; see the table)${request ? `; pending request ${request.id} is kept` : ''}`,
      );
    }
    await completeRequest(request?.id, flags, flags.json ? quiet : out);
    return;
  }
  const target = targets[0]!;
  const k1 =
    target.namespace === settings.namespace
      ? kubectl
      : new Kubectl({ namespace: target.namespace, context: settings.context, kubeconfig: settings.kubeconfig });
  const endpoint = target.endpoint ?? settings.endpoint;
  const resolved = await resolveMarker(k1, target.namespace, target.secret, out, {
    endpoint,
    servername: settings.servername,
    dryRun: flags.dryRun,
  });
  if (resolved === 'running') {
    const { BusyError } = await import('../../errors.js');
    throw new BusyError(
      `another xsoar-cert run is changing ${target.namespace}/${target.secret}`,
      'Wait for it to finish.',
    );
  }
  const result = await executeTransaction(
    {
      op: 'install',
      namespace: target.namespace,
      secret: target.secret,
      proxy: settings.proxy,
      endpoint,
      servername: settings.servername ?? flags.host[0],
      context: settings.context,
      content: contentFrom(material, flags.cert),
      allowNameChange: flags.allowNameChange,
      noConfirm: flags.confirm === false,
      dryRun: flags.dryRun,
      timeoutS,
      confirm: (p) => askToProceed(p, out, flags.yes),
      preflight:
        resolved === 'none' && target.namespace === settings.namespace && target.secret === settings.secret
          ? early
          : undefined,
    },
    k1,
    out,
  );
  if (result.result === 'cancelled') {
    const { CancelledError } = await import('../../errors.js');
    throw new CancelledError();
  }
  if (result.result === 'installed')
    await completeRequest(request?.id, flags, flags.json ? new Output({ json: true }) : out);
  if (flags.json) {
    out.emit({
      ok: true,
      ...result,
      ...(request
        ? { request: { id: request.id, completed: result.result === 'installed' && !flags.keepRequest } }
        : {}),
    });
    return;
  }
  if (result.result === 'dry-run') {
    out.result('Dry run: nothing was changed. The plan (tls.key redacted):');
    out.result(
      JSON.stringify(
        {
          backup: (result.plan as Plan).backupManifest,
          secret: (result.plan as Plan).secretManifest,
          restart: result.deployments.map((d) => `deployment/${d}`),
        },
        null,
        2,
      ),
    );
    return;
  }
  out.result(
    `Installed ${result.newFingerprint} in ${result.namespace}/${result.secret}${result.confirmed ? ' and confirmed it is served' : ''}; previous version kept as ${result.backup}.`,
  );
}
