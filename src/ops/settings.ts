// Where namespace, secret, proxy, endpoint and context come from.
// Precedence: flags > environment (XSOAR_CERT_*) > config file > defaults.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';

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
  context?: string;
  kubeconfig?: string;
  config?: string;
}

const DEFAULTS = { namespace: 'xsoar', secret: 'xsoar-tls', proxy: 'auto' };

export { home, stateDir } from '../state-dir.js';
import { home } from '../state-dir.js';

export function defaultConfigFile(): string {
  return process.env.XSOAR_CERT_CONFIG || path.join(process.env.XDG_CONFIG_HOME || path.join(home(), '.config'), 'xsoar-cert', 'config.json');
}

function readConfig(file: string, explicit: boolean): Record<string, string> {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return {};
    throw new InputError(`${file}: ${code === 'ENOENT' ? 'no such config file' : 'not valid JSON'}`, { file, hint: 'The config file is JSON: {"namespace": "...", "secret": "...", "proxy": "auto", "endpoint": "host:443"}' });
  }
}

export function resolveSettings(flags: SettingFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  const configFile = flags.config ?? defaultConfigFile();
  const cfg = readConfig(configFile, Boolean(flags.config));
  const sources = {} as Settings['sources'];
  const pick = (k: keyof Settings['sources'], envName: string, dflt?: string): string | undefined => {
    const raw = flags[k];
    const f = Array.isArray(raw) ? raw[0] : raw;
    if (f !== undefined && f !== '') { sources[k] = 'flag'; return f; }
    const e = env[envName];
    if (e !== undefined && e !== '') { sources[k] = 'env'; return e; }
    if (cfg[k] !== undefined && cfg[k] !== '') { sources[k] = 'config'; return cfg[k]; }
    sources[k] = 'default';
    return dflt;
  };
  const proxy = pick('proxy', 'XSOAR_CERT_PROXY', DEFAULTS.proxy)!;
  return {
    namespace: pick('namespace', 'XSOAR_CERT_NAMESPACE', DEFAULTS.namespace)!,
    secret: pick('secret', 'XSOAR_CERT_SECRET', DEFAULTS.secret)!,
    proxy: proxy.replace(/^deployment\//, ''),
    endpoint: pick('endpoint', 'XSOAR_CERT_ENDPOINT'),
    context: pick('context', 'XSOAR_CERT_CONTEXT'),
    servername: flags.servername ?? cfg.servername,
    kubeconfig: flags.kubeconfig,
    sources,
    configFile,
  };
}

/** The config file's "acme" object (renew --acme settings), {} when absent. */
export function readAcmeConfig(file: string, explicit: boolean): Record<string, unknown> & { directory?: string } {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { acme?: unknown };
    return v.acme && typeof v.acme === 'object' && !Array.isArray(v.acme) ? (v.acme as Record<string, unknown>) : {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InputError(`${file}: not valid JSON`, { file });
  }
}
