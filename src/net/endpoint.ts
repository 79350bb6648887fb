// HOST[:PORT], the one parser for every command: an IPv6 address in brackets (RFC 3986 section
// 3.2.2), since its colons would otherwise be read as the port separator. Each caller keeps what it
// accepts: --endpoint needs a port, --dns-rfc2136 defaults to 53, both check host and port strictly;
// a served-chain fetch defaults to 443 and probe also takes a bare IPv6 address (then --ports).
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

interface HostPort {
  /** Without the brackets. */
  host: string;
  /** The digits as written; undefined when there is no ":PORT". */
  port?: string;
  bracketed: boolean;
}

/**
 * HOST[:PORT] split, nothing judged: "[v6]" or "[v6]:PORT", a HOST without ":" with an optional
 * ":PORT", or (with `bareIPv6`) an IPv6 address without brackets and so without a port.
 */
function splitHostPort(s: string, bareIPv6 = false): HostPort | undefined {
  const inBrackets = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (inBrackets) return { host: inBrackets[1]!, port: inBrackets[2], bracketed: true };
  if (bareIPv6 && isIP(s) === 6) return { host: s, bracketed: false };
  const plain = /^([^:]+)(?::(\d+))?$/.exec(s);
  return plain ? { host: plain[1]!, port: plain[2], bracketed: false } : undefined;
}

/**
 * HOST[:PORT] as an option names a server: an IPv6 address in brackets of hex digits, colons and
 * dots, or a host with no space, colon or bracket; a port of at most 5 digits from 1 to 65535,
 * `defaultPort` when there is none (none: the port is required). undefined when it is not that.
 */
export function parseHostPort(s: string, defaultPort?: number): { host: string; port: number } | undefined {
  const p = splitHostPort(s);
  if (!p || !(p.bracketed ? /^[0-9a-fA-F:.]+$/.test(p.host) : !/[\s[\]]/.test(p.host))) return undefined;
  if (p.port !== undefined && p.port.length > 5) return undefined;
  const port = p.port !== undefined ? Number(p.port) : defaultPort;
  return port !== undefined && port >= 1 && port <= 65535 ? { host: p.host, port } : undefined;
}

/** HOST:PORT with a port from 1 to 65535 (IPv6 in brackets); a UsageError otherwise. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const p = parseHostPort(endpoint);
  if (!p)
    throw new UsageError(
      `--endpoint "${endpoint}": expected HOST:PORT with a port from 1 to 65535 (e.g. xsoar.example.com:443)`,
    );
  return p;
}

/** HOST[:PORT] with `defaultPort` when there is no port; anything else is taken whole as the host. */
export function splitEndpoint(endpoint: string, defaultPort = 443): { host: string; port: number } {
  const p = splitHostPort(endpoint);
  if (!p) return { host: endpoint, port: defaultPort };
  return { host: p.host, port: p.port ? Number(p.port) : defaultPort };
}

/** A probe argument: HOST, HOST:PORT, [IPv6], [IPv6]:PORT or a bare IPv6 address; PORT undefined when absent. */
export function parseProbeTarget(arg: string): { host: string; port?: number } {
  const p = splitHostPort(arg, true);
  if (!p) throw new UsageError(`"${arg}" is not HOST or HOST:PORT`);
  return { host: p.host, port: p.port ? Number(p.port) : undefined };
}

/** host:port as written back, an IPv6 address in brackets. */
export function formatEndpoint(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
