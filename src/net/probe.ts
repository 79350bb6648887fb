// `probe`: what an endpoint really serves. Each TLS version is tried on its own; the chain
// is read from the TLS 1.2 Certificate message as sent (Node's API reorders it), so a wrong
// order or a missing intermediate is visible; trust, names and expiry go through verify.
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { Duplex } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { CertEntry } from '../pki/types.js';
import { bounded } from '../pool.js';
import { formatEndpoint, parseProbeTarget } from './endpoint.js';

export const VERSIONS: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** "443,18501-18510" → [443, 18501, ..., 18510] */
export function parsePorts(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`--ports: "${part}" is not a port or a range like 18501-18510`);
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    if (a < 1 || b > 65535 || b < a) throw new UsageError(`--ports: "${part}" is outside 1-65535 or reversed`);
    if (b - a > 1000) throw new UsageError(`--ports: "${part}" spans more than 1000 ports`);
    for (let p = a; p <= b; p++) if (!out.includes(p)) out.push(p);
  }
  if (out.length === 0) throw new UsageError('--ports is empty');
  return out;
}

/** HOST[:PORT] arguments × --ports → host:port endpoints. */
export function expandEndpoints(args: string[], ports: number[]): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const a of args) {
    const { host, port: given } = parseProbeTarget(a);
    const list = given !== undefined ? [given] : ports;
    for (const port of list) out.push({ host, port });
  }
  return out;
}

/** Certificates in the order the server sent them, from TLS 1.2 handshake records. */
export function certificatesFromHandshake(bytes: Buffer): Buffer[] | undefined {
  // Concatenate the payloads of handshake records (content type 22) until a non-handshake record.
  const hs: Buffer[] = [];
  let i = 0;
  while (i + 5 <= bytes.length) {
    const type = bytes[i]!;
    const len = bytes.readUInt16BE(i + 3);
    if (i + 5 + len > bytes.length) break;
    if (type === 22) hs.push(bytes.subarray(i + 5, i + 5 + len));
    else if (type !== 20) break;
    i += 5 + len;
  }
  const h = Buffer.concat(hs);
  let j = 0;
  while (j + 4 <= h.length) {
    const msgType = h[j]!;
    const msgLen = h.readUIntBE(j + 1, 3);
    if (msgType === 11) {
      const body = h.subarray(j + 4, j + 4 + msgLen);
      const total = body.readUIntBE(0, 3);
      const certs: Buffer[] = [];
      let k = 3;
      while (k + 3 <= 3 + total && k + 3 <= body.length) {
        const n = body.readUIntBE(k, 3);
        certs.push(body.subarray(k + 3, k + 3 + n));
        k += 3 + n;
      }
      return certs;
    }
    j += 4 + msgLen;
  }
  return undefined;
}

export interface Attempt {
  version: SecureVersion;
  accepted: boolean;
  error?: string;
  code?: string;
  served?: Buffer[];
}

/**
 * A relay between the TCP socket and the TLS engine, so the handshake bytes can be kept: what the
 * server sends is passed on and copied into `seen` until 64 KiB are kept.
 */
function recordingRelay(raw: Socket, seen: Buffer[]): Duplex {
  const relay = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end();
      cb();
    },
  });
  raw.on('data', (d: Buffer) => {
    if (seen.reduce((n, b) => n + b.length, 0) < 65536) seen.push(d);
    relay.push(d);
  });
  raw.on('end', () => relay.push(null));
  return relay;
}

/** One handshake pinned to `version`, recording the server's bytes. */
export function tryVersion(
  host: string,
  port: number,
  version: SecureVersion,
  opts: { servername?: string; timeoutMs: number },
): Promise<Attempt> {
  return new Promise((resolve) => {
    const raw: Socket = tcpConnect({ host, port });
    const seen: Buffer[] = [];
    const relay = recordingRelay(raw, seen);
    let done = false;
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      raw.destroy();
      tls?.destroy();
      resolve(a);
    };
    const timer = setTimeout(
      () => finish({ version, accepted: false, error: `no answer within ${opts.timeoutMs} ms`, code: 'ETIMEDOUT' }),
      opts.timeoutMs,
    );
    raw.on('error', (err: NodeJS.ErrnoException) =>
      finish({ version, accepted: false, error: err.message, code: err.code }),
    );
    let tls: ReturnType<typeof tlsConnect> | undefined;
    raw.on('connect', () => {
      tls = tlsConnect({
        socket: relay as unknown as Socket,
        servername: opts.servername ?? (isIP(host) ? undefined : host),
        rejectUnauthorized: false,
        minVersion: version,
        maxVersion: version,
        // OpenSSL 3 refuses TLS 1.0/1.1 at the default security level: lower it only for those tries.
        ciphers: version === 'TLSv1' || version === 'TLSv1.1' ? 'DEFAULT:@SECLEVEL=0' : undefined,
      });
      tls.on('secureConnect', () =>
        finish({ version, accepted: true, served: certificatesFromHandshake(Buffer.concat(seen)) ?? peerChain(tls!) }),
      );
      tls.on('error', (err: NodeJS.ErrnoException) =>
        finish({ version, accepted: false, error: String(err.message).split('\n')[0], code: err.code }),
      );
    });
  });
}

function peerChain(s: ReturnType<typeof tlsConnect>): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let c = s.getPeerCertificate(true);
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}

export interface ProbeResult {
  endpoint: string;
  status: 'ok' | 'problems' | 'unreachable';
  reason?: string;
  versions: Record<string, boolean>;
  chain: { subject: string; issuer: string; sha256: string; notAfter: string; daysLeft: number }[];
  orderChecked: boolean;
  orderOk: boolean;
  missingIntermediate: boolean;
  hostMatch?: boolean;
  trusted: boolean;
  daysLeft?: number;
  problems: string[];
  warnings: string[];
}

const DAY = 86_400_000;

type ProbeOptions = { servername?: string; anchors: CertEntry[]; anchorSource: string; timeoutMs: number };

/** A result with nothing learnt yet: what an endpoint that never completes a handshake reports. */
function unprobed(endpoint: string): ProbeResult {
  return {
    endpoint,
    status: 'unreachable',
    versions: {},
    chain: [],
    orderChecked: false,
    orderOk: false,
    missingIntermediate: false,
    trusted: false,
    problems: [],
    warnings: [],
  };
}

/** Faults of the connection itself, not of TLS: no other version is tried after one of them. */
const UNREACHABLE = ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ECONNRESET'];

function unreachableReason(first: Attempt): string | undefined {
  if (first.code === 'ECONNREFUSED') return 'connection refused';
  if (first.code === 'ENOTFOUND') return 'host not found';
  return first.error;
}

/** The served certificates as reported: one line per name, the days left rounded down. */
function chainRows(served: X509Certificate[]): ProbeResult['chain'] {
  return served.map((c) => ({
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    sha256: c.fingerprint256,
    notAfter: new Date(c.validTo).toISOString(),
    daysLeft: Math.floor((new Date(c.validTo).getTime() - Date.now()) / DAY),
  }));
}

/** TLS 1.2 and 1.3 are both needed; TLS 1.0 and 1.1 are deprecated (RFC 8996) and only warned about. */
function versionFindings(r: ProbeResult): void {
  const { versions } = r;
  if (!versions['TLSv1.2'])
    r.problems.push('TLS 1.2 is not accepted: clients and XSOAR hosts that speak only TLS 1.2 cannot connect');
  if (!versions['TLSv1.3']) r.problems.push('TLS 1.3 is not accepted: enable it on the proxy');
  if (versions.TLSv1 || versions['TLSv1.1']) {
    const obsolete = [versions.TLSv1 && 'TLS 1.0', versions['TLSv1.1'] && 'TLS 1.1'].filter(Boolean).join(' and ');
    r.warnings.push(`obsolete ${obsolete} accepted: disable it`);
  }
}

/** RFC 5246 section 7.4.2: each certificate is directly certified by the one that follows it. */
function inIssuerOrder(served: X509Certificate[]): boolean {
  let ok = true;
  for (let i = 0; i + 1 < served.length; i++) {
    if (served[i]!.issuer !== served[i + 1]!.subject || !served[i]!.verify(served[i + 1]!.publicKey)) ok = false;
  }
  return ok;
}

/** Trust, the host name and the lints, through verifyBundle, as the problems and warnings of `r`. */
async function trustFindings(r: ProbeResult, served: X509Certificate[], host: string, opts: ProbeOptions) {
  const { endpoint } = r;
  const { verifyBundle } = await import('../pki/verify.js');
  const entries: CertEntry[] = served.map((cert, index) => ({ cert, der: cert.raw, source: endpoint, index }));
  const v = verifyBundle({
    certs: entries.slice(0, 1),
    chain: entries.slice(1),
    anchors: opts.anchors,
    anchorSource: opts.anchorSource,
    keys: [],
    hosts: [opts.servername ?? host],
    at: new Date(),
  });
  r.trusted = !v.checks.some((c) => c.id === 'chain.trust' && c.status === 'fail');
  const missing = v.checks.find(
    (c) => c.id === 'chain.trust' && c.status === 'fail' && /which is missing/.test(c.message),
  );
  r.missingIntermediate = Boolean(missing);
  r.hostMatch = !v.checks.some((c) => c.id === 'host' && c.status === 'fail');
  r.daysLeft = r.chain[0]?.daysLeft;
  const strip = (m: string) => (m.startsWith(`${endpoint}: `) ? m.slice(endpoint.length + 2) : m);
  if (r.missingIntermediate) r.problems.push(`missing intermediate: ${strip(missing!.message)}`);
  else if (!r.trusted) r.problems.push(`not trusted by ${opts.anchorSource}`);
  for (const c of v.checks) {
    if (c.status !== 'fail' || c.id === 'chain.trust' || c.id.startsWith('profile.') || c.id === 'lint.root-in-chain')
      continue;
    r.problems.push(strip(c.message));
  }
  for (const c of v.checks) if (c.status === 'warn' && c.id === 'lint.expiry-soon') r.warnings.push(strip(c.message));
}

export async function probeEndpoint(host: string, port: number, opts: ProbeOptions): Promise<ProbeResult> {
  const endpoint = formatEndpoint(host, port);
  // TLS 1.2 first: if the port is closed or not TLS, say so once instead of four times.
  const first = await tryVersion(host, port, 'TLSv1.2', opts);
  if (!first.accepted && UNREACHABLE.includes(first.code ?? '')) {
    return { ...unprobed(endpoint), reason: unreachableReason(first) };
  }
  const others = await Promise.all(
    (['TLSv1', 'TLSv1.1', 'TLSv1.3'] as SecureVersion[]).map((v) => tryVersion(host, port, v, opts)),
  );
  const attempts = [first, ...others];
  const versions: Record<string, boolean> = {};
  for (const v of VERSIONS) versions[v] = attempts.find((a) => a.version === v)!.accepted;
  // The chain as sent is only in a TLS 1.2 handshake (TLS 1.3 encrypts it), so that one is read first.
  const best = attempts.find((a) => a.version === 'TLSv1.2' && a.accepted) ?? attempts.find((a) => a.accepted);
  if (!best) {
    return {
      ...unprobed(endpoint),
      versions,
      reason: `no TLS handshake succeeded (${first.error ?? 'not a TLS server?'})`,
    };
  }
  const served = (best.served ?? []).map((der) => new X509Certificate(der));
  const r: ProbeResult = {
    ...unprobed(endpoint),
    status: 'ok',
    versions,
    orderChecked: best.version === 'TLSv1.2',
    orderOk: true,
    trusted: false,
    chain: chainRows(served),
  };
  versionFindings(r);
  r.orderOk = inIssuerOrder(served);
  if (!r.orderOk)
    r.problems.push(
      'the served chain is out of order (each certificate must be followed by its issuer): ' +
        'install it with xsoar-cert, which orders it',
    );
  await trustFindings(r, served, host, opts);
  r.status = r.problems.length ? 'problems' : 'ok';
  return r;
}

export async function probeAll(
  endpoints: { host: string; port: number }[],
  opts: ProbeOptions & { parallel?: number },
): Promise<ProbeResult[]> {
  const results: ProbeResult[] = new Array(endpoints.length);
  await bounded(endpoints, opts.parallel ?? 16, async (e, i) => {
    results[i] = await probeEndpoint(e.host, e.port, opts);
  });
  return results;
}
