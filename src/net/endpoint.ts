// HOST[:PORT], the one parser for every command: an IPv6 address in brackets (RFC 3986 section
// 3.2.2), since its colons would otherwise be read as the port separator. Each caller decides what
// it accepts on top: --endpoint needs a port in range, probe takes a bare IPv6 address and --ports,
// a served-chain fetch defaults to 443.
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

/** HOST:PORT with a port from 1 to 65535 (IPv6 in brackets); a UsageError otherwise. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const p = splitHostPort(endpoint);
  const hostOk = p && (p.bracketed ? /^[0-9a-fA-F:.]+$/.test(p.host) : !/[\s[\]]/.test(p.host));
  const port = p?.port !== undefined && p.port.length <= 5 ? Number(p.port) : NaN;
  if (!hostOk || !(port >= 1 && port <= 65535))
    throw new UsageError(
      `--endpoint "${endpoint}": expected HOST:PORT with a port from 1 to 65535 (e.g. xsoar.example.com:443)`,
    );
  return { host: p.host, port };
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
