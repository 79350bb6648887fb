// What an ACME CA answers (RFC 8555 section 7.1), checked before any of it is used. A CA's answer
// names files (HTTP-01 tokens), the DNS names we publish records for and the URLs we call next,
// so an answer of the wrong shape ends the run (exit 9) naming what the CA sent, escaped and
// short, before anything is published: never a TypeError (exit 70), never a record for a name
// that was not ordered.
import { isIP } from 'node:net';
import { CaError } from '../errors.js';

type Obj = Record<string, unknown>;

export interface Identifier {
  type: 'dns' | 'ip';
  value: string;
}

export interface CheckedDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert?: string;
  keyChange?: string;
  renewalInfo?: string;
  meta: { termsOfService?: string; externalAccountRequired: boolean; profiles?: string[] };
}

export interface CheckedChallenge {
  type: string;
  url: string;
  status?: string;
  token?: string;
  error?: unknown;
}

export interface CheckedAuthz {
  url: string;
  identifier: Identifier;
  wildcard: boolean;
  status: string;
  challenges: CheckedChallenge[];
}

export interface CheckedOrder {
  url: string;
  status: string;
  identifiers: Identifier[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: unknown;
}

// RFC 8555 7.1.6 status values.
const ORDER_STATUS = ['pending', 'ready', 'processing', 'valid', 'invalid'];
const AUTHZ_STATUS = ['pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked'];
const CHALLENGE_STATUS = ['pending', 'processing', 'valid', 'invalid'];

// C0, DEL, C1, and the Unicode line/paragraph separators and bidi overrides that reorder a line.
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Untrusted text (a CA's problem detail) in one short line: control characters escaped, cut at `max`. */
export function oneLine(s: string, max = 200): string {
  const e = s.replace(UNPRINTABLE, (c) => (c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  return e.length > max ? `${e.slice(0, max)}…` : e;
}

/** An untrusted value as JSON in one short line (a string quoted, so "\\n" and spaces show). */
export function shown(v: unknown, max = 100): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return oneLine(s, max);
}

/** RFC 8555 8.1: a token is base64url (no padding): nothing else may reach a path or a URL. */
export function isAcmeToken(t: unknown): t is string {
  return typeof t === 'string' && /^[A-Za-z0-9_-]{1,256}$/.test(t);
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DNS_NAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`, 'i');

/** A DNS name of letters, digits and hyphens (no wildcard, no trailing dot, nothing else). */
export function isDnsName(v: unknown): v is string {
  return typeof v === 'string' && DNS_NAME.test(v);
}

/** The identifiers of an order for these names (RFC 8555 7.1.4; RFC 8738 for IP addresses). */
export function identifiersOf(names: readonly string[]): Identifier[] {
  return names.map((value) => ({ type: isIP(value) ? 'ip' : 'dns', value: value.toLowerCase() }));
}

/** Checks one CA answer; `ca` names the CA (its host) in every message. */
export class AnswerCheck {
  /** Set once the challenge responses are out: messages then say they were removed. */
  published = false;

  constructor(readonly ca: string) {}

  refuse(what: string, value: unknown): CaError {
    const done = this.published
      ? 'the challenge responses were removed and nothing was changed'
      : 'nothing was published or changed';
    const todo = 'check that --acme names a CA you trust';
    return new CaError(`the CA at ${this.ca} sent ${what} ${shown(value)}: ${done}; ${todo}`);
  }

  obj(v: unknown, what: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw this.refuse(`${what} that is not a JSON object:`, v);
    }
    return v as Obj;
  }

  str(o: Obj, key: string, what: string): string {
    const v = o[key];
    if (typeof v !== 'string' || !v) throw this.refuse(`${what} whose "${key}" is not a string:`, v);
    return v;
  }

  optStr(o: Obj, key: string, what: string): string | undefined {
    return o[key] === undefined ? undefined : this.str(o, key, what);
  }

  /** RFC 8555 6.1: every ACME URL is https (the directory is, and we never follow a downgrade). */
  url(v: unknown, what: string): string {
    let u: URL | undefined;
    try {
      u = typeof v === 'string' ? new URL(v) : undefined;
    } catch {
      /* refused below */
    }
    if (!u || u.protocol !== 'https:' || u.username || u.password) {
      throw this.refuse(`${what} that is not an https URL:`, v);
    }
    return v as string;
  }

  status(o: Obj, allowed: readonly string[], what: string): string {
    const s = o.status;
    if (typeof s !== 'string' || !allowed.includes(s)) throw this.refuse(`${what} with the status`, s);
    return s;
  }

  /** draft-ietf-acme-profiles: meta.profiles maps each profile's name to a description. */
  profiles(raw: unknown): string[] | undefined {
    if (raw === undefined) return undefined;
    const p = this.obj(raw, 'a directory "meta.profiles"');
    const names = Object.keys(p);
    if (names.length > 64 || !names.every((n) => /^[A-Za-z0-9._-]{1,64}$/.test(n)))
      throw this.refuse('a directory "meta.profiles" with names that are not profile names:', names);
    return names;
  }

  directory(raw: unknown): CheckedDirectory {
    const d = this.obj(raw, 'a directory');
    const opt = (k: string) => (d[k] === undefined ? undefined : this.url(d[k], `a directory "${k}"`));
    const meta = d.meta === undefined ? {} : this.obj(d.meta, 'a directory "meta"');
    if (meta.externalAccountRequired !== undefined && typeof meta.externalAccountRequired !== 'boolean') {
      throw this.refuse('a directory whose "externalAccountRequired" is not true/false:', meta.externalAccountRequired);
    }
    return {
      newNonce: this.url(d.newNonce, 'a directory "newNonce"'),
      newAccount: this.url(d.newAccount, 'a directory "newAccount"'),
      newOrder: this.url(d.newOrder, 'a directory "newOrder"'),
      revokeCert: opt('revokeCert'),
      keyChange: opt('keyChange'),
      renewalInfo: opt('renewalInfo'),
      meta: {
        termsOfService: this.optStr(meta, 'termsOfService', 'a directory "meta"'),
        externalAccountRequired: meta.externalAccountRequired === true,
        profiles: this.profiles(meta.profiles),
      },
    };
  }

  /**
   * An identifier the CA sent, refused unless it is one of the names ordered. An order lists a
   * wildcard as "*.NAME"; its authorization names NAME with wildcard: true (RFC 8555 7.1.3, 7.1.4).
   */
  identifier(raw: unknown, ordered: readonly Identifier[], what: string, wildcard: boolean | 'order'): Identifier {
    const i = this.obj(raw, `${what} identifier`);
    const value = i.value;
    const bare = typeof value === 'string' && wildcard === 'order' ? value.replace(/^\*\./, '') : value;
    if (i.type === 'dns' ? !isDnsName(bare) : i.type === 'ip' ? typeof value !== 'string' || !isIP(value) : true) {
      throw this.refuse(`${what} for an identifier that is not a DNS name or IP address:`, raw);
    }
    const key = `${wildcard === true ? '*.' : ''}${String(value).toLowerCase()}`;
    if (!ordered.some((o) => o.type === i.type && o.value === key)) {
      throw this.refuse(`${what} for a name that was not ordered:`, key);
    }
    return { type: i.type as Identifier['type'], value: String(value).toLowerCase() };
  }

  order(raw: unknown, url: unknown, ordered: readonly Identifier[]): CheckedOrder {
    const o = this.obj(raw, 'an order');
    const ids = o.identifiers;
    if (!Array.isArray(ids) || !ids.length) throw this.refuse('an order whose "identifiers" is not a list:', ids);
    const auths = o.authorizations;
    // RFC 8555 7.1.3: one authorization per identifier at most.
    if (!Array.isArray(auths) || auths.length > ordered.length) {
      throw this.refuse(`an order whose "authorizations" is not a list of at most ${ordered.length}:`, auths);
    }
    return {
      url: this.url(url, 'an order location'),
      status: this.status(o, ORDER_STATUS, 'an order'),
      identifiers: ids.map((i) => this.identifier(i, ordered, 'an order', 'order')),
      authorizations: auths.map((a) => this.url(a, 'an order authorization')),
      finalize: this.url(o.finalize, 'an order "finalize"'),
      certificate: o.certificate === undefined ? undefined : this.url(o.certificate, 'an order "certificate"'),
      error: o.error,
    };
  }

  authz(raw: unknown, url: string, ordered: readonly Identifier[]): CheckedAuthz {
    const a = this.obj(raw, 'an authorization');
    if (a.wildcard !== undefined && typeof a.wildcard !== 'boolean') {
      throw this.refuse('an authorization whose "wildcard" is not true/false:', a.wildcard);
    }
    const wildcard = a.wildcard === true;
    const identifier = this.identifier(a.identifier, ordered, 'an authorization', wildcard);
    if (!Array.isArray(a.challenges)) {
      throw this.refuse(`an authorization for ${identifier.value} whose "challenges" is not a list:`, a.challenges);
    }
    const status = this.status(a, AUTHZ_STATUS, 'an authorization');
    return { url, identifier, wildcard, status, challenges: a.challenges.map((c) => this.challenge(c)) };
  }

  challenge(raw: unknown): CheckedChallenge {
    const c = this.obj(raw, 'a challenge');
    const status = c.status === undefined ? undefined : this.status(c, CHALLENGE_STATUS, 'a challenge');
    const type = this.str(c, 'type', 'a challenge');
    const url = this.url(c.url, 'a challenge "url"');
    return { type, url, status, token: c.token as string | undefined, error: c.error };
  }

  /** The challenge we answer: its token becomes a file name and a URL path (RFC 8555 8.3). */
  token(c: CheckedChallenge): string {
    if (!isAcmeToken(c.token)) throw this.refuse(`a ${c.type} challenge whose token is not base64url:`, c.token);
    return c.token;
  }

  /** The answer to a challenge response (RFC 8555 7.5.1): a challenge object. */
  challengeAnswer(raw: unknown): void {
    this.challenge(raw);
  }

  /** RFC 8555 7.4.2: the chain as application/pem-certificate-chain. */
  chain(raw: unknown): string {
    const pem = /^\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/;
    if (typeof raw !== 'string' || !pem.test(raw)) {
      throw this.refuse('a certificate download that is not a PEM certificate chain:', raw);
    }
    return raw;
  }
}
