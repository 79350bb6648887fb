// `renew --print-cron` / `--print-systemd`: ready-to-paste schedules with absolute
// paths (cron runs with a minimal PATH and maybe no HOME), logging to a file.
import path from 'node:path';
import { UsageError } from '../errors.js';
import { hasControl, quoted } from '../printable.js';

export interface ScheduleInput {
  /** Absolute path of the node binary (process.execPath). */
  node: string;
  /** Absolute path of the xsoar-cert entry script. */
  script: string;
  /** The renew arguments to repeat, already validated (no secrets: passphrases come from files). */
  args: readonly string[];
  logFile: string;
  /** Environment worth pinning (KUBECONFIG, XSOAR_CERT_STATE_DIR, ...). */
  env: Record<string, string>;
  /** Deterministic minute/hour so a fleet does not renew all at once; --random-delay spreads further. */
  minute: number;
  hour: number;
}

/** Quote for /bin/sh: single quotes unless the word is plainly safe (POSIX sh, 2.2.2: nothing inside is special). */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A newline (or any control character) in a value would end the crontab entry and start another
 * (crontab(5): one entry per line), or break a unit file's line: refused, whatever the caller checked.
 */
function refuseControl(s: ScheduleInput): void {
  const all = [s.node, s.script, ...s.args, s.logFile, ...Object.entries(s.env).flat()];
  const bad = all.find((w) => hasControl(w));
  if (bad !== undefined) {
    throw new UsageError(`${quoted(bad, 60)} holds a control character: it cannot go in a schedule line`);
  }
}

/**
 * crontab(5): "%" in the command ends it (the rest is stdin) unless escaped as "\%". Debian's cron
 * also reads "\\" as one backslash, cronie does not; doubling a run of backslashes before "%" keeps
 * the "%" escaped under both, so no value can end the command early.
 */
function cronEscape(line: string): string {
  return line.replace(/(\\*)%/g, (_, bs: string) => `${bs}${bs}\\%`);
}

export function cronLine(s: ScheduleInput): string {
  refuseControl(s);
  const env = Object.entries(s.env)
    .map(([k, v]) => `${k}=${shQuote(v)}`)
    .join(' ');
  const cmd = [s.node, s.script, 'renew', ...s.args].map(shQuote).join(' ');
  return cronEscape(`${s.minute} ${s.hour} * * * ${env ? env + ' ' : ''}${cmd} >> ${shQuote(s.logFile)} 2>&1`);
}

/**
 * One word of a unit file's command line (systemd.service(5) "Command lines", systemd.syntax(7)):
 * double quotes with C-style escapes, "%" specifiers written "%%" (systemd.unit(5) "Specifiers")
 * and, in ExecStart= only, "$" written "$$" so no variable is expanded.
 */
export function systemdWord(w: string, exec = true): string {
  const word = /^[A-Za-z0-9_./:=@+,-]+$/.test(w) ? w : `"${w.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const specifiers = word.replace(/%/g, '%%');
  return exec ? specifiers.replace(/\$/g, '$$$$') : specifiers;
}

/** A value after "Key=" in a unit file: specifiers are expanded there too (systemd.unit(5)). */
const systemdValue = (v: string) => v.replace(/%/g, '%%');

export function systemdUnits(s: ScheduleInput): { service: string; timer: string } {
  refuseControl(s);
  const env = Object.entries(s.env)
    .map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`, false)}`)
    .join('\n');
  const exec = [s.node, s.script, 'renew', ...s.args].map((w) => systemdWord(w)).join(' ');
  const service = `# /etc/systemd/system/xsoar-cert-renew.service
[Unit]
Description=Renew the tenant HTTPS certificate with xsoar-cert
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
${env ? env + '\n' : ''}ExecStart=${exec}
StandardOutput=append:${systemdValue(s.logFile)}
StandardError=append:${systemdValue(s.logFile)}
`;
  const timer = `# /etc/systemd/system/xsoar-cert-renew.timer
[Unit]
Description=Daily xsoar-cert renewal check

[Timer]
OnCalendar=*-*-* ${String(s.hour).padStart(2, '0')}:${String(s.minute).padStart(2, '0')}:00
RandomizedDelaySec=1h
Persistent=true

[Install]
WantedBy=timers.target
`;
  return { service, timer };
}

/** A stable minute/hour from a seed (the secret's identity), in the quiet hours 1-5. */
export function spreadTime(seed: string): { minute: number; hour: number } {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return { minute: h % 60, hour: 1 + ((h >>> 8) % 5) };
}

export function defaultLogFile(stateDir: string): string {
  return path.join(stateDir, 'renew.log');
}
