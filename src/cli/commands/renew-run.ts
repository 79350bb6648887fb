import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../errors.js';
import { Output } from '../output.js';
import { checkSettingText, resolveSettings, stateDir } from '../../ops/settings.js';
import { parseThreshold } from '../../ops/renew-policy.js';
import { cronLine, defaultLogFile, spreadTime, systemdUnits } from '../../ops/schedule.js';
import { acquireLock } from '../../ops/state.js';
import type { RenewFlags } from './renew.js';
import { parseTimeout } from '../target-flags.js';
import { readAcmeConfig, readNotifyConfig, type Settings } from '../../ops/settings.js';
import type { RenewOptions, RenewResult } from '../../ops/renew.js';
import type { FleetResult, Target } from '../../ops/fleet.js';
import { notifyCronArgs, resolveNotify } from '../../ops/notify-settings.js';
import { challengeKind, type AcmeSettings } from '../../ops/sources/acme.js';
import { acmeCronArgs, acmeSettingsFrom } from '../../ops/sources/acme-options.js';
import { fileTargetOf } from '../file-flags.js';

/**
 * Every flag value free of control characters: --print-cron and --print-systemd repeat them in a
 * crontab entry (one per line, crontab(5)) or a unit file (one setting per line, systemd.syntax(7)).
 */
function refuseControlInFlags(flags: RenewFlags): void {
  for (const [k, v] of Object.entries(flags)) {
    const flag = '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    for (const x of Array.isArray(v) ? (v as unknown[]) : [v]) if (typeof x === 'string') checkSettingText(x, { flag });
  }
  for (const env of ['KUBECONFIG', 'XSOAR_CERT_STATE_DIR']) {
    const v = process.env[env];
    if (v) checkSettingText(v, { env });
  }
}

export async function runRenewCommand(flags: RenewFlags): Promise<void> {
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  refuseControlInFlags(flags);
  const threshold = thresholdOf(flags);
  parseTimeout(flags.timeout);
  const settings = resolveSettings(flags);
  const notifySettings = resolveNotify(
    flags,
    readNotifyConfig(settings.configFile!, Boolean(flags.config)),
    settings.configFile!,
  ); // checked before anything runs
  const acme = acmeOf(flags, settings);
  if (flags.preset === 'xsoar8')
    throw new UsageError('renew takes --preset xsoar6 (its files); --preset xsoar8 is a check of install');
  const files = await fileTargetOf(flags);
  if (flags.printCron || flags.printSystemd) return printSchedule(flags, settings, acme);
  await randomDelay(flags, out);
  if (files) {
    const base = baseOptions(flags, settings, threshold, acme);
    return (await import('../files-commands.js')).renewFilesCommand(flags, { ...base, target: files }, out, {
      notify: Boolean(notifySettings),
    });
  }
  const { resolveFleet, contextsOf } = await import('../../ops/fleet.js');
  const { Kubectl } = await import('../../k8s/kubectl.js');
  const { namespace, allNamespaces, selector, tenantsFile } = flags;
  const { targets, lost } = await resolveFleet(
    { namespace, allNamespaces, selector, tenantsFile, contexts: contextsOf(flags.context) },
    { namespace: settings.namespace, secret: settings.secret },
    (context) =>
      new Kubectl({
        namespace: settings.namespace,
        context: context ?? settings.context,
        kubeconfig: settings.kubeconfig,
      }),
  );
  const base = baseOptions(flags, settings, threshold, acme);
  // Notifications (README "Notifications") once the results are known, whatever they are: they never
  // change the exit code, and an error renew throws is rethrown as it was. So does the metrics file.
  const { notifier } = await import('../../ops/notify.js');
  const notify = notifier(
    notifySettings,
    { dryRun: flags.dryRun, context: base.context, kubeconfig: base.kubeconfig },
    out,
  );
  try {
    await renewTargets(flags, out, { targets, lost }, base, settings, notify.seen);
  } catch (err) {
    await notify.send(targets, err);
    await writeMetrics(flags, targets, base, out);
    throw err;
  }
  await notify.send(targets);
  await writeMetrics(flags, targets, base, out);
}

function thresholdOf(flags: RenewFlags): ReturnType<typeof parseThreshold> {
  try {
    return parseThreshold(flags.before, flags.beforePercent);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The one source the flags (and the settings file's acme object) name; undefined for a folder or self-signed. */
function acmeOf(flags: RenewFlags, settings: Settings): AcmeSettings | undefined {
  const acmeFile = readAcmeConfig(settings.configFile!, Boolean(flags.config));
  // A drop folder or self-signed run takes no ACME settings from the file (only --acme is then refused below).
  const acme =
    flags.from || flags.selfSigned
      ? flags.acme
        ? ({ directory: String(flags.acme) } as AcmeSettings)
        : undefined
      : acmeSettingsFrom(flags, acmeFile, settings.configFile!);
  const sources = [flags.from && '--from', flags.selfSigned && '--self-signed', acme && '--acme'].filter(Boolean);
  if (sources.length === 0)
    throw new UsageError(
      'renew needs --acme URL (obtain from an ACME CA), --from DIR (where new certificates are dropped) ' +
        'or --self-signed',
    );
  if (sources.length > 1) throw new UsageError(`use one of ${sources.join(', ')}, not several`);
  if (acme) challengeKind(acme);
  return acme;
}

/** The cron line or systemd units, with absolute paths: cron's PATH is minimal and its HOME may be unset. */
function printSchedule(flags: RenewFlags, settings: Settings, acme: AcmeSettings | undefined): void {
  const script = path.resolve(process.argv[1] ?? fileURLToPath(import.meta.url));
  const env: Record<string, string> = { PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin` };
  const kc = settings.kubeconfig ?? process.env.KUBECONFIG;
  if (kc) env.KUBECONFIG = path.resolve(kc);
  env.XSOAR_CERT_STATE_DIR = stateDir();
  const input = {
    node: process.execPath,
    script,
    args: scheduleArgs(flags, settings, acme),
    logFile: path.resolve(flags.logFile ?? defaultLogFile(stateDir())),
    env,
    ...spreadTime(`${settings.namespace}/${settings.secret}`),
  };
  if (flags.printCron) process.stdout.write(cronLine(input) + '\n');
  if (flags.printSystemd) {
    const u = systemdUnits(input);
    process.stdout.write(u.service + '\n' + u.timer);
  }
}

function scheduleArgs(flags: RenewFlags, settings: Settings, acme: AcmeSettings | undefined): string[] {
  const opt = (flag: string, v: string | undefined) => (v ? [flag, v] : []);
  const abs = (v: string | undefined) => (v ? path.resolve(v) : undefined);
  return [
    ...(flags.from ? ['--from', path.resolve(flags.from)] : acme ? acmeCronArgs(flags) : ['--self-signed']),
    ...opt('--before', flags.before),
    ...opt('--before-percent', flags.beforePercent),
    ...(flags.files || flags.preset === 'xsoar6'
      ? filesArgs(flags)
      : ['-n', settings.namespace, '--secret', settings.secret]),
    ...(flags.files || flags.preset === 'xsoar6' ? [] : ['--proxy', settings.proxy]),
    ...opt('--endpoint', settings.endpoint),
    ...(Array.isArray(flags.context) && flags.context.length > 1
      ? flags.context.flatMap((c) => ['--context', c])
      : opt('--context', settings.context)),
    ...opt('--ca', abs(flags.ca)),
    ...flags.chain.flatMap((c) => ['--chain', path.resolve(c)]),
    ...flags.host.flatMap((h) => ['--host', h]),
    ...(flags.allowNameChange ? ['--allow-name-change'] : []),
    ...opt('--passphrase-file', abs(flags.passphraseFile)),
    ...notifyCronArgs(flags),
    ...opt('--metrics-file', abs(flags.metricsFile as string | undefined)),
    ...['--random-delay', flags.randomDelay ?? '900', '--quiet'],
  ];
}

/** --files and its flags for a cron line: absolute paths (cron starts in HOME, or nowhere). */
function filesArgs(flags: RenewFlags): string[] {
  const opt = (flag: string, v: string | undefined) => (v ? [flag, v] : []);
  const files = flags.files
    ?.split(',')
    .map((f) => path.resolve(f.trim()))
    .join(',');
  return [
    ...opt('--files', files),
    ...opt('--preset', flags.preset),
    ...opt('--owner', flags.owner),
    ...opt('--mode', flags.mode),
    ...opt('--restart-cmd', flags.restartCmd),
  ];
}

/** Like certbot: a random wait before a fleet's cron runs hit the CA, only when nobody waits at a terminal. */
async function randomDelay(flags: RenewFlags, out: Output): Promise<void> {
  if (!flags.randomDelay) return;
  const max = Number(flags.randomDelay);
  if (!Number.isFinite(max) || max < 0)
    throw new UsageError(`--random-delay takes seconds, not "${flags.randomDelay}"`);
  if (max <= 0 || process.stdin.isTTY) return;
  const ms = Math.floor(Math.random() * max * 1000);
  out.info(`waiting ${Math.round(ms / 1000)} s (--random-delay) before renewing`);
  await new Promise((r) => setTimeout(r, ms));
}

type Base = Omit<RenewOptions, 'namespace' | 'secret' | 'endpoint'>;

function baseOptions(
  flags: RenewFlags,
  settings: Settings,
  threshold: Base['threshold'],
  acme: AcmeSettings | undefined,
): Base {
  return {
    proxy: settings.proxy,
    servername: settings.servername ?? flags.host[0],
    context: settings.context,
    kubeconfig: settings.kubeconfig,
    threshold,
    from: flags.from,
    selfSigned: flags.selfSigned,
    acme,
    ca: flags.ca,
    chain: flags.chain,
    hosts: flags.host,
    allowNameChange: flags.allowNameChange,
    noConfirm: flags.confirm === false,
    passphraseFile: flags.passphraseFile,
    dryRun: flags.dryRun,
    force: flags.force,
    timeoutS: parseTimeout(flags.timeout),
  };
}

/** --metrics-file: the tenants as they are after this run (node_exporter's textfile collector); no exit code change. */
async function writeMetrics(flags: RenewFlags, targets: Target[], base: Base, out: Output): Promise<void> {
  const file = flags.metricsFile as string | undefined;
  if (!file || flags.dryRun) return;
  const { writeFleetMetrics } = await import('../../ops/metrics.js');
  await writeFleetMetrics(targets, path.resolve(file), { context: base.context, kubeconfig: base.kubeconfig }).catch(
    (err: unknown) => out.warn(`--metrics-file ${file}: ${(err as Error).message}`),
  );
}

/** The renewal of the resolved tenants, rendered; `seen` gets the per-tenant results (for the notifications). */
async function renewTargets(
  flags: RenewFlags,
  out: Output,
  { targets, lost }: { targets: Target[]; lost: FleetResult<RenewResult>[] },
  base: Omit<RenewOptions, 'namespace' | 'secret' | 'endpoint'>,
  settings: Settings,
  seen: (results: FleetResult<RenewResult>[]) => void,
): Promise<void> {
  const { runRenew } = await import('../../ops/renew.js');
  if (targets.length + lost.length > 1) return renewFleet(flags, out, { targets, lost }, base, seen);
  // One renewal per secret at a time, for the whole run (the transaction re-enters it).
  const lock = flags.dryRun
    ? { release: () => undefined }
    : acquireLock(targets[0]!.namespace, targets[0]!.secret, 'renew');
  try {
    const r = await runRenew(
      {
        ...base,
        context: targets[0]!.context ?? base.context,
        namespace: targets[0]!.namespace,
        secret: targets[0]!.secret,
        endpoint: targets[0]!.endpoint ?? settings.endpoint,
      },
      out,
    );
    seen([{ target: targets[0]!, ok: true, value: r, ms: 0 }]);
    if (flags.json) out.emit({ ok: true, ...r });
    else if (r.action === 'skipped') out.result(`nothing to do: ${r.namespace}/${r.secret} ${r.reason}`);
    else
      out.result(
        `${r.action === 'dry-run' ? 'would renew' : 'renewed'} ${r.namespace}/${r.secret} from ${r.from}: ` +
          `${r.transaction.newFingerprint ?? '(not obtained in a dry run)'}`,
      );
  } finally {
    lock.release();
  }
}

/** Several tenants: every secret read at once, the folder scanned once, the due tenants renewed in one batch. */
async function renewFleet(
  flags: RenewFlags,
  out: Output,
  { targets, lost }: { targets: Target[]; lost: FleetResult<RenewResult>[] },
  base: Omit<RenewOptions, 'namespace' | 'secret' | 'endpoint'>,
  seen: (results: FleetResult<RenewResult>[]) => void,
): Promise<void> {
  const { parseParallel, fleetTable } = await import('../../ops/fleet.js');
  const quiet = new Output({ quiet: true, json: flags.json });
  const { runRenewClusters } = await import('../../ops/renew-fleet.js');
  const results = await runRenewClusters(targets, lost, base, parseParallel(flags.parallel), quiet);
  seen(results);
  if (flags.json)
    out.emit({
      ok: results.every((r) => r.ok),
      tenants: results.map((r) => ({
        context: r.target.context ?? base.context ?? null,
        namespace: r.target.namespace,
        secret: r.target.secret,
        ok: r.ok,
        exitCode: r.exitCode ?? 0,
        error: r.error,
        action: r.value?.action,
        reason: r.value?.reason,
        ...(r.value && 'files' in r.value && r.value.files ? { files: r.value.files } : {}),
      })),
    });
  else
    out.result(
      fleetTable(results, (v) => (v.action === 'skipped' ? `not due: ${v.reason}` : `${v.action} from ${v.from}`)),
    );
  const failed = results.filter((r) => !r.ok).length;
  if (failed) {
    const { PartialError } = await import('../../errors.js');
    throw new PartialError(`${failed} of ${results.length} tenants failed to renew (see the table)`);
  }
}
