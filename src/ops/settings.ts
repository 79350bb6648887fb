// Where namespace, secret, proxy, endpoint and context come from.
// Precedence: flags > environment (XSOAR_CERT_*) > config file > defaults.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { checkK8sName, checkProxy, type NameOrigin } from '../k8s/names.js';
import { hasControl, quoted } from '../printable.js';
import { ACCEPTABLE_LINTS, unacceptable } from '../pki/accept.js';

export type Source = 'flag' | 'env' | 'config' | 'default';

export interface Settings {
  namespace: string;
  secret: string;
  proxy: string;
  endpoint?: string;
  servername?: string;
  context?: string;
  kubeconfig?: string;
  sources: Record<'namespace' | 'secret' | 'proxy' | 'endpoint' | 'context', Source>;
  configFile?: string;
}

export interface SettingFlags {
  /** One namespace, or the repeated -n list (the first is the default target). */
  namespace?: string | string[];
  secret?: string;
  proxy?: string;
  endpoint?: string;
  servername?: string;
  /** One context, or the repeated --context list (the first is the default; fleet.ts runs each). */
  context?: string | string[];
  kubeconfig?: string;
  config?: string;
}

const DEFAULTS = { namespace: 'xsoar', secret: 'xsoar-tls', proxy: 'auto' };

export { home, stateDir } from '../state-dir.js';
import { home } from '../state-dir.js';

export function defaultConfigFile(): string {
  return (
    process.env.XSOAR_CERT_CONFIG ||
    path.join(process.env.XDG_CONFIG_HOME || path.join(home(), '.config'), 'xsoar-cert', 'config.json')
  );
}

function readConfig(file: string, explicit: boolean): Record<string, string> {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    refuseControlChars(v, file);
    return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return {};
    throw new InputError(`${file}: ${code === 'ENOENT' ? 'no such config file' : 'not valid JSON'}`, {
      file,
      hint: 'The config file is JSON: {"namespace": "...", "secret": "...", "proxy": "auto", "endpoint": "host:443"}',
    });
  }
}

/**
 * Every string in the settings file, at any depth, free of control characters: a newline in a
 * value would start a new crontab entry in `--print-cron` (crontab(5): one entry per line).
 */
function refuseControlChars(v: unknown, file: string, at = ''): void {
  if (typeof v === 'string') {
    if (hasControl(v)) {
      throw new InputError(`${file}: the setting "${at}" holds a control character (${quoted(v, 60)})`, {
        file,
        hint: 'Settings are one line each: remove the control character.',
      });
    }
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) refuseControlChars(x, file, at ? `${at}.${k}` : k);
  }
}

/** A flag or environment value free of control characters (what cron and systemd lines repeat). */
export function checkSettingText(value: string, from: { flag?: string; env?: string }): string {
  if (!hasControl(value)) return value;
  const where = from.env ?? from.flag ?? 'a setting';
  const hint = from.env ? `Fix or unset ${from.env}.` : undefined;
  throw new UsageError(`${where}: ${quoted(value, 60)} holds a control character`, hint);
}

type Key = keyof Settings['sources'];
const FLAG_NAMES: Record<Key, string> = {
  namespace: '--namespace',
  secret: '--secret',
  proxy: '--proxy',
  endpoint: '--endpoint',
  context: '--context',
};
const ENV_NAMES: Record<Key, string> = {
  namespace: 'XSOAR_CERT_NAMESPACE',
  secret: 'XSOAR_CERT_SECRET',
  proxy: 'XSOAR_CERT_PROXY',
  endpoint: 'XSOAR_CERT_ENDPOINT',
  context: 'XSOAR_CERT_CONTEXT',
};

/** Each value checked for its kind, the error naming the flag, variable or file it came from. */
function checked(k: Key, value: string | undefined, from: NameOrigin): string | undefined {
  if (value === undefined) return undefined;
  if (k === 'namespace' || k === 'secret' || k === 'context') return checkK8sName(k, value, from);
  if (k === 'proxy') return checkProxy(value, from);
  return from.file ? value : checkSettingText(value, from); // file values were checked as the file was read
}

export function resolveSettings(flags: SettingFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  const configFile = flags.config ?? defaultConfigFile();
  const cfg = readConfig(configFile, Boolean(flags.config));
  const sources = {} as Settings['sources'];
  const pick = (k: Key, dflt?: string): string | undefined => {
    const raw = flags[k];
    const extras = Array.isArray(raw) ? raw.slice(1) : [];
    for (const extra of extras) checkK8sName(k === 'context' ? 'context' : 'namespace', extra, { flag: FLAG_NAMES[k] });
    const f = Array.isArray(raw) ? raw[0] : raw;
    if (f !== undefined && f !== '') {
      sources[k] = 'flag';
      return checked(k, f, { flag: FLAG_NAMES[k] });
    }
    const e = env[ENV_NAMES[k]];
    if (e !== undefined && e !== '') {
      sources[k] = 'env';
      return checked(k, e, { env: ENV_NAMES[k] });
    }
    if (cfg[k] !== undefined && cfg[k] !== '') {
      sources[k] = 'config';
      return checked(k, cfg[k], { file: configFile });
    }
    sources[k] = 'default';
    return dflt;
  };
  const text = (v: string, flag: string) => checkSettingText(v, { flag });
  const proxy = pick('proxy', DEFAULTS.proxy)!;
  return {
    namespace: pick('namespace', DEFAULTS.namespace)!,
    secret: pick('secret', DEFAULTS.secret)!,
    proxy: proxy.replace(/^deployment\//, ''),
    endpoint: pick('endpoint'),
    context: pick('context'),
    servername: flags.servername === undefined ? cfg.servername : text(flags.servername, '--servername'),
    kubeconfig: flags.kubeconfig === undefined ? undefined : text(flags.kubeconfig, '--kubeconfig'),
    sources,
    configFile,
  };
}

/** The config file's "acme" object (renew --acme settings), {} when absent. */
export function readAcmeConfig(file: string, explicit: boolean): Record<string, unknown> & { directory?: string } {
  return readConfigObject(file, explicit, 'acme');
}

/** The config file's "notify" object (renew's notifications, ops/notify-settings.ts), {} when absent. */
export function readNotifyConfig(file: string, explicit: boolean): Record<string, unknown> {
  return readConfigObject(file, explicit, 'notify');
}

/**
 * The policy lints accepted: --accept flags, else the config file's "accept" list. An id that is not
 * an acceptable policy lint (pki/accept.ts) is refused, naming where it came from.
 */
export function acceptedLints(flags: string[], file: string): string[] {
  let ids = flags;
  if (!ids.length) {
    const raw = readConfigValue(file, 'accept');
    if (raw !== undefined && (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string')))
      throw new InputError(`${file}: "accept" must be a list of lint ids, e.g. ["lint.lifetime"]`, { file });
    ids = (raw as string[] | undefined) ?? [];
  }
  const bad = unacceptable(ids);
  if (!bad.length) return [...new Set(ids)];
  const lints = Object.keys(ACCEPTABLE_LINTS).join(', ');
  const why = `only policy lints can be accepted (${lints}), never a chain, key or name check`;
  if (!flags.length) throw new InputError(`${file}: "accept" names ${bad.join(', ')}: ${why}`, { file });
  throw new UsageError(`--accept ${bad.join(', ')}: ${why}`);
}

function readConfigValue(file: string, key: string): unknown {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    refuseControlChars(v, file);
    return v[key];
  } catch (err) {
    if (err instanceof InputError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`${file}: not valid JSON`, { file });
  }
}

function readConfigObject(file: string, explicit: boolean, key: 'acme' | 'notify'): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    refuseControlChars(v, file);
    const o = v[key];
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
  } catch (err) {
    if (err instanceof InputError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InputError(`${file}: not valid JSON`, { file });
  }
}
