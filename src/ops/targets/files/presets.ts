// Where the files go, from the flags and the source systems' recipes: --files/--owner/--mode/
// --restart-cmd, or --preset xsoar6 (Cortex XSOAR 6 admin guide, "HTTPS with a Signed
// Certificate": /usr/local/demisto/cert.pem and cert.key, owned by demisto:demisto, other paths
// set as Security.CertFile / Security.KeyFile in /etc/demisto.conf, the chain ordered server
// certificate, intermediates, CA, only CERTIFICATE blocks). --preset xsoar8 checks the three
// names an XSOAR 8 tenant answers on (xsoar., api-xsoar., ext-xsoar. + domain).
import { closeSync, constants as C, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { CheckFailedError, UsageError } from '../../../errors.js';
import { hasControl, quoted } from '../../../printable.js';
import { parseFilesFlag, parseModeFlag, parseOwnerFlag, type FilePaths, type Modes } from './plan.js';

export interface FileTargetFlags {
  files?: string;
  owner?: string;
  mode?: string;
  restartCmd?: string;
  preset?: string;
  domain?: string;
}

export interface FileTarget {
  paths: FilePaths;
  owner?: { user: string; group: string };
  modes?: Modes;
  restartCmd?: string;
  withCa?: boolean;
  /** Notes for the user (a demisto.conf that could not be used). */
  notes: string[];
}

export const PRESETS = ['xsoar6', 'xsoar8'] as const;
export const XSOAR6 = {
  cert: '/usr/local/demisto/cert.pem',
  key: '/usr/local/demisto/cert.key',
  owner: 'demisto:demisto',
  mode: '0640,0600',
  restartCmd: 'systemctl restart demisto',
};
export const demistoConfPath = () => process.env.XSOAR_CERT_DEMISTO_CONF || '/etc/demisto.conf';

/** The file target the flags describe, or undefined when they name none (the Kubernetes secret). */
export function fileTarget(f: FileTargetFlags): FileTarget | undefined {
  if (f.preset !== undefined && !(PRESETS as readonly string[]).includes(f.preset))
    throw new UsageError(`--preset ${quoted(f.preset)}: expected one of ${PRESETS.join(', ')}`);
  const xsoar6 = f.preset === 'xsoar6';
  if (!f.files && !xsoar6) {
    for (const [flag, v] of [
      ['--owner', f.owner],
      ['--mode', f.mode],
      ['--restart-cmd', f.restartCmd],
    ] as const)
      if (v !== undefined) throw new UsageError(`${flag} needs --files (or --preset xsoar6)`);
    return undefined;
  }
  if (f.preset === 'xsoar8') throw new UsageError('--preset xsoar8 is for the Kubernetes secret, not --files');
  const notes: string[] = [];
  const conf = xsoar6 && !f.files ? demistoPaths(readSmall(demistoConfPath()), demistoConfPath(), notes) : {};
  const files = f.files ?? `${conf.cert ?? XSOAR6.cert},${conf.key ?? XSOAR6.key}`;
  const parsed = parseFilesFlag(files);
  const paths: FilePaths = {
    cert: path.resolve(parsed.cert),
    ...(parsed.key ? { key: path.resolve(parsed.key) } : {}),
  };
  const mode = f.mode ?? (xsoar6 ? XSOAR6.mode : undefined);
  const owner = f.owner ?? (xsoar6 ? XSOAR6.owner : undefined);
  const restartCmd = f.restartCmd ?? (xsoar6 ? XSOAR6.restartCmd : undefined);
  if (restartCmd !== undefined && (!restartCmd.trim() || hasControl(restartCmd) || restartCmd.length > 4096))
    throw new UsageError('--restart-cmd: expected one command line (no control characters, at most 4096 characters)');
  return {
    paths,
    ...(owner ? { owner: parseOwnerFlag(owner) } : {}),
    ...(mode ? { modes: parseModeFlag(mode, !paths.key) } : {}),
    ...(restartCmd ? { restartCmd } : {}),
    ...(xsoar6 ? { withCa: true } : {}),
    notes,
  };
}

/** A small text file, bounded and without waiting on a FIFO; undefined when it is not there or not readable. */
function readSmall(file: string, max = 1024 * 1024): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, C.O_RDONLY | C.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(st.size, max));
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Security.CertFile and Security.KeyFile from demisto.conf (JSON; nested or as "Security.CertFile"
 * keys). Tolerant: a file that is missing, not JSON or sets odd values leaves the defaults, with a note.
 */
export function demistoPaths(text: string | undefined, file: string, notes: string[]): { cert?: string; key?: string } {
  if (text === undefined) return {};
  let conf: Record<string, unknown>;
  try {
    conf = JSON.parse(text) as Record<string, unknown>;
  } catch {
    notes.push(`${file} is not JSON: using the default paths`);
    return {};
  }
  if (!conf || typeof conf !== 'object') return {};
  const security = (conf.Security ?? {}) as Record<string, unknown>;
  const pick = (k: string) => {
    const v = (typeof security === 'object' && security ? security[k] : undefined) ?? conf[`Security.${k}`];
    if (v === undefined || v === '') return undefined;
    if (typeof v === 'string' && v.startsWith('/') && !hasControl(v) && !v.includes(',') && v.length <= 4096) return v;
    notes.push(`${file}: Security.${k} is not an absolute path: using the default`);
    return undefined;
  };
  return { cert: pick('CertFile'), key: pick('KeyFile') };
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** XSOAR 8: the three names (RFC 6125 wildcards: one leftmost label) the certificate must cover. */
export function xsoar8Missing(names: string[], domain: string): string[] {
  const lower = names.map((n) => n.toLowerCase());
  const covers = (want: string) => lower.includes(want) || lower.includes(`*.${want.slice(want.indexOf('.') + 1)}`);
  return ['xsoar', 'api-xsoar', 'ext-xsoar'].map((p) => `${p}.${domain}`).filter((n) => !covers(n));
}

/** --preset xsoar8 --domain D: refused before anything changes when a name is missing. */
export function checkXsoar8(names: string[], domain: string | undefined, label: string): void {
  if (!domain) throw new UsageError('--preset xsoar8 needs --domain (e.g. --domain example.com)');
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(d)) throw new UsageError(`--domain ${quoted(domain)}: expected a DNS domain (e.g. example.com)`);
  const missing = xsoar8Missing(names, d);
  if (missing.length)
    throw new CheckFailedError(
      `${label} does not cover ${missing.join(', ')}: an XSOAR 8 tenant answers on xsoar., api-xsoar. and ` +
        `ext-xsoar.${d}; nothing was changed`,
      'Get a certificate that covers all three names (or *.' + d + ').',
    );
}
