// The ACME settings, defined once: the flags `renew` registers, the keys of the settings file's
// "acme" object, their checks, and the arguments --print-cron and --print-systemd repeat all come
// from this table. (The EAB HMAC itself is never a flag or a cron argument: it stays in its file
// or in XSOAR_CERT_ACME_EAB_HMAC.)
import path from 'node:path';
import { InputError, UsageError } from '../../errors.js';
import type { AcmeSettings } from './acme.js';

export interface AcmeOption {
  /** The settings key (the config file's "acme" object uses the same). */
  key: keyof AcmeSettings;
  /** The flag, with its argument name when it takes one. */
  flag: string;
  help: string;
  kind: 'text' | 'path' | 'bool' | 'int';
  min?: number;
  max?: number;
}

export const ACME_OPTIONS: readonly AcmeOption[] = [
  {
    key: 'directory',
    flag: '--acme <directory-url>',
    kind: 'text',
    help: 'obtain the certificate from this ACME (RFC 8555) CA, with a new key',
  },
  { key: 'email', flag: '--acme-email <addr>', kind: 'text', help: 'contact address for the ACME account' },
  {
    key: 'agreeTos',
    flag: '--acme-agree-tos',
    kind: 'bool',
    help: "agree to the CA's terms of service (needed once, when the CA has them)",
  },
  {
    key: 'eabKid',
    flag: '--acme-eab-kid <kid>',
    kind: 'text',
    help: 'External Account Binding key id from your CA account',
  },
  {
    key: 'eabHmacFile',
    flag: '--acme-eab-hmac-file <file>',
    kind: 'path',
    help: 'External Account Binding HMAC key file (or XSOAR_CERT_ACME_EAB_HMAC)',
  },
  {
    key: 'acmeCa',
    flag: '--acme-ca <file>',
    kind: 'path',
    help: "the CA certificate that signed the ACME server's own TLS certificate (default: the system store)",
  },
  {
    key: 'dnsRfc2136',
    flag: '--dns-rfc2136 <host[:port]>',
    kind: 'text',
    help: 'DNS-01 by RFC 2136 dynamic update at this DNS server (BIND, PowerDNS, Knot, Windows DNS)',
  },
  {
    key: 'dnsTsigKey',
    flag: '--dns-tsig-key <file>',
    kind: 'path',
    help: 'the TSIG key for --dns-rfc2136, as tsig-keygen writes it',
  },
  {
    key: 'dnsZone',
    flag: '--dns-zone <zone>',
    kind: 'text',
    help: 'the zone to update (default: found at the server)',
  },
  {
    key: 'dnsHook',
    flag: '--dns-hook <cmd>',
    kind: 'text',
    help:
      'DNS-01 through your script: called with add/remove, XSOAR_CERT_DNS_NAME and XSOAR_CERT_DNS_VALUE ' +
      'in its environment',
  },
  {
    key: 'dnsCheck',
    flag: '--dns-check <host[:port]>',
    kind: 'text',
    help:
      'the authoritative server to check DNS-01 records at before the CA is asked ' +
      '(default: the RFC 2136 server, or the system resolver)',
  },
  {
    key: 'dnsWaitS',
    flag: '--dns-wait <seconds>',
    kind: 'int',
    min: 1,
    max: 3600,
    help: 'how long a DNS-01 record may take to appear at the check server (default 30)',
  },
  {
    key: 'httpPort',
    flag: '--http-port <port>',
    kind: 'int',
    min: 1,
    max: 65535,
    help: 'HTTP-01 with a standalone responder on this port (port 80 forwarded to it)',
  },
  {
    key: 'webroot',
    flag: '--webroot <dir>',
    kind: 'path',
    help: 'HTTP-01 by writing the responses under DIR/.well-known/acme-challenge/',
  },
  { key: 'reuseKey', flag: '--reuse-key', kind: 'bool', help: 'ACME: keep the installed key instead of a new one' },
  {
    key: 'profile',
    flag: '--acme-profile <name>',
    kind: 'text',
    help: "the CA's certificate profile (its directory lists them), e.g. shortlived for 6-day certificates",
  },
];

/** commander's property for a flag: --acme-eab-kid → acmeEabKid. */
export const flagProp = (o: AcmeOption): string =>
  o.flag
    .split(' ')[0]!
    .replace(/^--/, '')
    .replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function fromFlag(o: AcmeOption, v: unknown): unknown {
  if (v === undefined) return undefined;
  if (o.kind === 'path') return path.resolve(String(v));
  if (o.kind !== 'int') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < o.min! || n > o.max!)
    throw new UsageError(`${o.flag.split(' ')[0]} takes a number from ${o.min} to ${o.max}, not "${String(v)}"`);
  return n;
}

function fromFile(o: AcmeOption, v: unknown, file: string): unknown {
  if (v === undefined) return undefined;
  const bad = (want: string) =>
    new InputError(`${file}: the setting "acme.${o.key}" must be ${want}, not ${JSON.stringify(v).slice(0, 60)}`, {
      file,
    });
  if (o.kind === 'bool') {
    if (typeof v !== 'boolean') throw bad('true or false');
    return v;
  }
  if (o.kind === 'int') {
    if (!Number.isInteger(v) || (v as number) < o.min! || (v as number) > o.max!)
      throw bad(`a number from ${o.min} to ${o.max}`);
    return v;
  }
  if (typeof v !== 'string' || !v) throw bad('a string');
  return o.kind === 'path' ? path.resolve(v) : v;
}

/** Flags over the settings file's "acme" object; undefined when neither names a directory. */
export function acmeSettingsFrom(
  flags: Record<string, unknown>,
  cfg: Record<string, unknown>,
  file: string,
): AcmeSettings | undefined {
  const out: Record<string, unknown> = {};
  for (const o of ACME_OPTIONS) {
    const v = fromFlag(o, flags[flagProp(o)]) ?? fromFile(o, cfg[o.key], file);
    if (v !== undefined) out[o.key] = v;
  }
  return out.directory ? (out as unknown as AcmeSettings) : undefined;
}

/** The ACME flags a cron line repeats, as given (paths made absolute; no secret is ever a flag). */
export function acmeCronArgs(flags: Record<string, unknown>): string[] {
  return ACME_OPTIONS.flatMap((o) => {
    const v = flags[flagProp(o)];
    const name = o.flag.split(' ')[0]!;
    if (v === undefined || v === false) return [];
    if (o.kind === 'bool') return [name];
    return [name, o.kind === 'path' ? path.resolve(String(v)) : String(v)];
  });
}
