// `renew --print-cron` / `--print-systemd`: ready-to-paste schedules with absolute
// paths (cron runs with a minimal PATH and maybe no HOME), logging to a file.
import path from 'node:path';

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

/** Quote for /bin/sh: single quotes unless the word is plainly safe. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function cronLine(s: ScheduleInput): string {
  const env = Object.entries(s.env).map(([k, v]) => `${k}=${shQuote(v)}`).join(' ');
  const cmd = [s.node, s.script, 'renew', ...s.args].map(shQuote).join(' ');
  // cron treats % as a newline: escape it in the command part.
  const line = `${s.minute} ${s.hour} * * * ${env ? env + ' ' : ''}${cmd} >> ${shQuote(s.logFile)} 2>&1`;
  return line.replace(/%/g, '\\%');
}

export function systemdUnits(s: ScheduleInput): { service: string; timer: string } {
  const env = Object.entries(s.env).map(([k, v]) => `Environment=${k}=${v}`).join('\n');
  const exec = [s.node, s.script, 'renew', ...s.args].map((w) => (/[\s"'\\]/.test(w) ? JSON.stringify(w) : w)).join(' ');
  const service = `# /etc/systemd/system/xsoar-cert-renew.service
[Unit]
Description=Renew the tenant HTTPS certificate with xsoar-cert
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
${env ? env + '\n' : ''}ExecStart=${exec}
StandardOutput=append:${s.logFile}
StandardError=append:${s.logFile}
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
