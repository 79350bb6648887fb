// DNS-01 records by RFC 2136 dynamic update, signed with TSIG (RFC 8945), and TXT lookups at an
// authoritative server. The UPDATE message is encoded here (dns-packet cannot encode the NONE
// class that deletes one record, nor a TSIG record); replies and queries are decoded with
// dns-packet. The reply's own MAC is not verified: whatever a reply says, the record is then
// looked up at the authoritative server before the CA is asked, so a forged "NOERROR" is caught.
import { createHmac, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { InputError } from '../errors.js';
import { parseHostPort } from './endpoint.js';

export interface TsigKey {
  name: string;
  algorithm: 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';
  secret: Buffer;
}

export interface DnsServer {
  host: string;
  port: number;
}

const MAX_KEY_FILE = 16 * 1024;

/** HOST[:PORT] (IPv6 in brackets), port 53 by default (RFC 1035 section 4.2). */
export function parseServer(s: string, flag: string): DnsServer {
  const server = parseHostPort(s.trim(), 53);
  if (!server)
    throw new InputError(
      `${flag} "${s}": expected HOST[:PORT] of the DNS server (e.g. ns1.example.com or 127.0.0.1:5353)`,
    );
  return server;
}

/** A key file as `tsig-keygen` (or `ddns-confgen`) writes it: key "NAME" { algorithm ALG; secret "B64"; }; */
export function parseTsigKeyFile(text: string, file: string): TsigKey {
  const m = /key\s+"?([A-Za-z0-9._-]+)"?\s*\{([^}]*)\}/.exec(text);
  const alg = m ? /algorithm\s+"?([a-z0-9-]+)"?\s*;/i.exec(m[2]!)?.[1]?.toLowerCase() : undefined;
  const secret = m ? /secret\s+"([A-Za-z0-9+/=]+)"\s*;/.exec(m[2]!)?.[1] : undefined;
  if (!m || !alg || !secret)
    throw new InputError(
      `${file}: not a TSIG key file ` +
        '(expected what tsig-keygen writes: key "NAME" { algorithm hmac-sha256; secret "..."; };)',
      { file, hint: 'Make one with: tsig-keygen -a hmac-sha256 NAME > FILE' },
    );
  if (!['hmac-sha256', 'hmac-sha384', 'hmac-sha512'].includes(alg))
    throw new InputError(
      `${file}: TSIG algorithm ${alg} is not supported; use hmac-sha256, hmac-sha384 or hmac-sha512`,
      { file },
    );
  return {
    name: m[1]!.replace(/\.$/, '').toLowerCase(),
    algorithm: alg as TsigKey['algorithm'],
    secret: Buffer.from(secret, 'base64'),
  };
}

/** The key file, read bounded (a regular file, at most 16 KiB: ../pki/input-file.ts). */
export async function readTsigKey(file: string): Promise<TsigKey> {
  const { readInputFile } = await import('../pki/input-file.js');
  const text = (await readInputFile(file, { maxBytes: MAX_KEY_FILE, what: 'a TSIG key file' })).toString('utf8');
  return parseTsigKeyFile(text, file);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, 'ascii');
    if (b.length > 63) throw new InputError(`DNS name ${name}: label "${l}" is longer than 63 bytes`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new InputError(`DNS name ${name} is longer than 255 bytes`);
  return out;
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const TYPE = { TXT: 16, SOA: 6, TSIG: 250 };
const CLASS = { IN: 1, NONE: 254, ANY: 255 };

function txtRdata(value: string): Buffer {
  const b = Buffer.from(value, 'utf8');
  if (b.length > 255) throw new InputError('a TXT value longer than 255 bytes');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

export interface TxtChange {
  action: 'add' | 'delete';
  name: string;
  value: string;
}

/** The unsigned UPDATE message: zone section (SOA), no prerequisites, one RR per change. */
export function encodeUpdate(id: number, zone: string, changes: readonly TxtChange[], ttl = 60): Buffer {
  const header = Buffer.concat([u16(id), u16(5 << 11), u16(1), u16(0), u16(changes.length), u16(0)]);
  const zoneSection = Buffer.concat([encodeName(zone), u16(TYPE.SOA), u16(CLASS.IN)]);
  const rrs = changes.map((c) => {
    const rdata = txtRdata(c.value);
    // RFC 2136 2.5.1 adds with class IN; 2.5.4 deletes one RR with class NONE and TTL 0.
    return Buffer.concat([
      encodeName(c.name),
      u16(TYPE.TXT),
      u16(c.action === 'add' ? CLASS.IN : CLASS.NONE),
      u32(c.action === 'add' ? ttl : 0),
      u16(rdata.length),
      rdata,
    ]);
  });
  return Buffer.concat([header, zoneSection, ...rrs]);
}

/** RFC 8945 4.3: the MAC over the message and the TSIG variables; the TSIG RR appended (ARCOUNT + 1). */
export function signTsig(msg: Buffer, key: TsigKey, now = new Date(), fudge = 300): Buffer {
  const time = Math.floor(now.getTime() / 1000);
  const timeSigned = Buffer.concat([u16(Math.floor(time / 2 ** 32)), u32(time % 2 ** 32)]);
  const keyName = encodeName(key.name);
  const alg = encodeName(key.algorithm);
  const vars = Buffer.concat([keyName, u16(CLASS.ANY), u32(0), alg, timeSigned, u16(fudge), u16(0), u16(0)]);
  const mac = createHmac(key.algorithm.slice(5), key.secret).update(msg).update(vars).digest();
  const rdata = Buffer.concat([alg, timeSigned, u16(fudge), u16(mac.length), mac, msg.subarray(0, 2), u16(0), u16(0)]);
  const rr = Buffer.concat([keyName, u16(TYPE.TSIG), u16(CLASS.ANY), u32(0), u16(rdata.length), rdata]);
  const out = Buffer.concat([msg, rr]);
  out.writeUInt16BE(msg.readUInt16BE(10) + 1, 10);
  return out;
}

const RCODES: Record<number, string> = {
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

/** One query/answer over UDP (TCP when the answer is truncated), with a timeout. */
async function exchange(server: DnsServer, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  const udp = await new Promise<Buffer>((resolve, reject) => {
    const sock = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no answer from ${server.host}:${server.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('message', (m) => {
      if (m.length < 12 || m.readUInt16BE(0) !== msg.readUInt16BE(0)) return; // not ours
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    });
    sock.send(msg, server.port, server.host);
  });
  if (!(udp.readUInt16BE(2) & 0x0200)) return udp;
  return new Promise<Buffer>((resolve, reject) => {
    const s = connect({ host: server.host, port: server.port });
    const chunks: Buffer[] = [];
    let size = 0;
    s.setTimeout(timeoutMs, () =>
      s.destroy(new Error(`no answer from ${server.host}:${server.port} over TCP within ${timeoutMs} ms`)),
    );
    s.on('connect', () => s.write(Buffer.concat([u16(msg.length), msg])));
    s.on('data', (d) => {
      chunks.push(d);
      size += d.length;
      const all = Buffer.concat(chunks);
      if (size >= 2 && size >= 2 + all.readUInt16BE(0)) {
        s.end();
        resolve(all.subarray(2, 2 + all.readUInt16BE(0)));
      }
      if (size > 70_000) s.destroy(new Error('DNS answer too large'));
    });
    s.on('error', reject);
  });
}

/** Send the changes as one signed UPDATE; throws with the server's answer (REFUSED, NOTAUTH/BADSIG...). */
export async function sendUpdate(
  server: DnsServer,
  zone: string,
  key: TsigKey,
  changes: readonly TxtChange[],
  timeoutMs = 5000,
): Promise<void> {
  const msg = signTsig(encodeUpdate(randomInt(0, 65536), zone, changes), key);
  const answer = await exchange(server, msg, timeoutMs);
  const rcode = answer.readUInt16BE(2) & 0xf;
  if (rcode === 0) return;
  const dnsPacket = (await import('dns-packet')).default;
  let tsigError = '';
  try {
    const decoded = dnsPacket.decode(answer) as { additionals?: Array<{ type: string; data?: Buffer }> };
    const tsig = decoded.additionals?.find((a) => a.type === 'UNKNOWN_250');
    if (tsig?.data && tsig.data.length >= 6) {
      // The error field sits 4 bytes from the end of the TSIG rdata (error, other len, other data).
      const other = tsig.data.readUInt16BE(tsig.data.length - 2);
      const err = tsig.data.readUInt16BE(tsig.data.length - 4 - other);
      if (err) tsigError = TSIG_ERRORS[err] ?? `TSIG error ${err}`;
    }
  } catch {
    /* the rcode alone then */
  }
  const what = RCODES[rcode] ?? `rcode ${rcode}`;
  const why = tsigError ? ` (${tsigError})` : '';
  throw new Error(`the DNS server ${server.host}:${server.port} answered ${what}${why} to the update of zone ${zone}`);
}

/** The TXT values of `name` as the server answers them (authoritative, no recursion). */
export async function queryTxt(server: DnsServer, name: string, timeoutMs = 3000): Promise<string[]> {
  const dnsPacket = (await import('dns-packet')).default;
  const msg = dnsPacket.encode({
    type: 'query',
    id: randomInt(0, 65536),
    flags: 0,
    questions: [{ type: 'TXT', name, class: 'IN' }],
  });
  const answer = dnsPacket.decode(await exchange(server, msg, timeoutMs));
  return (answer.answers ?? [])
    .filter((a) => a.type === 'TXT' && a.name.toLowerCase() === name.toLowerCase())
    .map((a) =>
      (a as { data: Buffer[] | Buffer }).data instanceof Array
        ? (a as { data: Buffer[] }).data.map((b) => b.toString()).join('')
        : String((a as { data: Buffer }).data),
    );
}

/** The zone a name belongs to at `server`: the closest enclosing name that has an SOA there. */
export async function findZone(server: DnsServer, name: string, timeoutMs = 3000): Promise<string> {
  const dnsPacket = (await import('dns-packet')).default;
  const labels = name.replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    const msg = dnsPacket.encode({
      type: 'query',
      id: randomInt(0, 65536),
      flags: 0,
      questions: [{ type: 'SOA', name: candidate, class: 'IN' }],
    });
    const answer = dnsPacket.decode(await exchange(server, msg, timeoutMs));
    if ((answer.answers ?? []).some((a) => a.type === 'SOA' && a.name.toLowerCase() === candidate.toLowerCase()))
      return candidate;
  }
  throw new Error(`the DNS server ${server.host}:${server.port} is not authoritative for any zone above ${name}`);
}
