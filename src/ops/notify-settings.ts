// Where renew's notifications go and which events they are for (README "Notifications"): the
// --notify-* flags over the settings file's "notify" object, checked before anything runs (a bad
// flag is exit 2, a bad file value exit 3), so a run never finds out at the end that it cannot tell
// anyone. Pure; the files named here (--notify-ca, mail.passwordFile) are read when sending.
import path from 'node:path';
import { hostname } from 'node:os';
import { InputError, UsageError } from '../errors.js';

export const NOTIFY_EVENTS = ['failure', 'change', 'expiring'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
export const NOTIFY_FORMATS = ['json', 'slack', 'teams'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** renew's --notify-* flags, by commander's property names. */
export interface NotifyFlags {
  notifyOn?: string[];
  notifyCmd?: string;
  notifyUrl?: string;
  notifyFormat?: string;
  notifyCa?: string;
  notifyMail?: string;
}

export interface MailSettings {
  to: string[];
  from: string;
  host: string;
  port: number;
  starttls: boolean;
  user?: string;
  passwordFile?: string;
}

export interface NotifySettings {
  on: NotifyEvent[];
  cmd?: string;
  url?: string;
  format: NotifyFormat;
  ca?: string;
  mail?: MailSettings;
  expiringDays: number;
}

export const DEFAULT_ON: NotifyEvent[] = ['failure', 'expiring'];
export const DEFAULT_EXPIRING_DAYS = 14;

/** Conservative: no spaces, angle brackets, commas or quotes, so nothing can add a header or a recipient. */
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** 127.0.0.0/8, ::1 or localhost: where plain http (and SMTP auth without STARTTLS) stays on this host. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

type Fail = (key: string, what: string) => never;

function failFor(configFile: string): { flag: (f: string) => Fail; file: Fail } {
  return {
    flag: (f) => (_key, what) => {
      throw new UsageError(`${f}: ${what}`);
    },
    file: (key, what) => {
      throw new InputError(`${configFile}: the setting "notify.${key}" ${what}`, {
        file: configFile,
        hint: 'See README "Notifications" for the keys of the settings file\'s "notify" object.',
      });
    },
  };
}

const words = (v: unknown): string[] | undefined =>
  typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;

function parseOn(values: string[], fail: Fail): NotifyEvent[] {
  const on = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  for (const e of on)
    if (!(NOTIFY_EVENTS as readonly string[]).includes(e))
      fail('on', `takes ${NOTIFY_EVENTS.join(', ')} (repeated or a comma list), not "${e}"`);
  return [...new Set(on as NotifyEvent[])];
}

function checkUrl(url: string, fail: Fail): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail('url', 'is not a URL');
  }
  if (u.protocol === 'https:') return url;
  if (u.protocol === 'http:' && isLoopback(u.hostname)) return url;
  return fail('url', 'must be https:// (plain http only to this host: 127.0.0.1, ::1 or localhost)');
}

function str(o: Record<string, unknown>, key: string, fail: Fail): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v) return fail(key, 'must be a non-empty string');
  return v;
}

function addresses(v: string, key: string, fail: Fail): string[] {
  const list = v.split(',').map((a) => a.trim());
  for (const a of list) if (!ADDRESS.test(a)) fail(key, `"${a}" is not a mail address (name@example.com)`);
  return list;
}

/** The SMTP settings: the flag's recipient over notify.mail.to; the rest from the settings file only. */
function mailSettings(flag: string | undefined, file: unknown, fails: ReturnType<typeof failFor>) {
  const m = file === undefined ? {} : file;
  if (!m || typeof m !== 'object' || Array.isArray(m)) return fails.file('mail', 'must be an object');
  const o = m as Record<string, unknown>;
  const fileTo = str(o, 'to', (k, w) => fails.file(`mail.${k}`, w));
  if (!flag && !fileTo) return undefined;
  const f: Fail = (k, w) => fails.file(`mail.${k}`, w);
  const to = flag ? addresses(flag, 'to', fails.flag('--notify-mail')) : addresses(fileTo!, 'to', f);
  const host = str(o, 'host', f) ?? 'localhost';
  if (!HOST.test(host)) f('host', 'must be a host name or an IP address (the port goes in "port")');
  const port = o.port ?? 25;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    f('port', 'must be a port number (1-65535)');
  if (o.starttls !== undefined && typeof o.starttls !== 'boolean') f('starttls', 'must be true or false');
  const user = str(o, 'user', f);
  const passwordFile = str(o, 'passwordFile', f);
  if (Boolean(user) !== Boolean(passwordFile)) f(user ? 'passwordFile' : 'user', 'is needed with the other');
  const starttls = o.starttls === true;
  if (user && !starttls && !isLoopback(host))
    f('starttls', 'must be true when a user is given: the password would cross the network in clear');
  const fromText = str(o, 'from', f);
  const from = fromText
    ? addresses(fromText, 'from', f)[0]!
    : `xsoar-cert@${hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'localhost'}`;
  return { to, from, host, port: port as number, starttls, user, passwordFile };
}

/** The notification settings, or undefined when no channel (command, URL, mail) is set. */
export function resolveNotify(
  flags: NotifyFlags,
  file: Record<string, unknown>,
  configFile: string,
): NotifySettings | undefined {
  const fails = failFor(configFile);
  const fileOn = file.on === undefined ? undefined : (words(file.on) ?? fails.file('on', 'must be a list of events'));
  const on = flags.notifyOn?.length
    ? parseOn(flags.notifyOn, fails.flag('--notify-on'))
    : fileOn
      ? parseOn(fileOn, fails.file)
      : DEFAULT_ON;
  const cmd = flags.notifyCmd || str(file, 'cmd', fails.file);
  const urlText = flags.notifyUrl || str(file, 'url', fails.file);
  const url = urlText && checkUrl(urlText, flags.notifyUrl ? fails.flag('--notify-url') : fails.file);
  const formatText = flags.notifyFormat || str(file, 'format', fails.file) || 'json';
  if (!(NOTIFY_FORMATS as readonly string[]).includes(formatText))
    (flags.notifyFormat ? fails.flag('--notify-format') : fails.file)(
      'format',
      `takes ${NOTIFY_FORMATS.join(', ')}, not "${formatText}"`,
    );
  const ca = flags.notifyCa || str(file, 'ca', fails.file);
  const days = file.expiringDays ?? DEFAULT_EXPIRING_DAYS;
  if (!Number.isInteger(days) || (days as number) < 1 || (days as number) > 3650)
    fails.file('expiringDays', 'must be a whole number of days (1-3650)');
  const mail = mailSettings(flags.notifyMail, file.mail, fails);
  if (!cmd && !url && !mail) {
    const stray = flags.notifyOn?.length || flags.notifyFormat || flags.notifyCa;
    if (stray)
      throw new UsageError(
        '--notify-on, --notify-format and --notify-ca need --notify-cmd, --notify-url or --notify-mail',
      );
    return undefined;
  }
  if (!url && flags.notifyFormat)
    throw new UsageError('--notify-format is for --notify-url (the command always gets JSON; mail is plain text)');
  if (!url && !mail && flags.notifyCa) throw new UsageError('--notify-ca is for --notify-url and --notify-mail');
  return { on, cmd, url, format: formatText as NotifyFormat, ca, mail, expiringDays: days as number };
}

/** The --notify-* flags a --print-cron or --print-systemd line repeats (the settings file is read at run time). */
export function notifyCronArgs(flags: NotifyFlags): string[] {
  return [
    ...(flags.notifyOn?.length ? ['--notify-on', flags.notifyOn.join(',')] : []),
    ...(flags.notifyCmd ? ['--notify-cmd', flags.notifyCmd] : []),
    ...(flags.notifyUrl ? ['--notify-url', flags.notifyUrl] : []),
    ...(flags.notifyFormat ? ['--notify-format', flags.notifyFormat] : []),
    ...(flags.notifyCa ? ['--notify-ca', path.resolve(flags.notifyCa)] : []),
    ...(flags.notifyMail ? ['--notify-mail', flags.notifyMail] : []),
  ];
}
