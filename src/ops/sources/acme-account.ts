// The ACME account of a directory, kept in the state dir (0600, state-dir.ts) so later runs reuse
// it, and the small files an order reads (the EAB key, the ACME server's CA), read bounded.
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../../errors.js';
import {
  createStateFile,
  ensureStateFolder,
  readStateFile,
  stateDir,
  stateFolder,
  writeStateFile,
} from '../../state-dir.js';
import type { AcmeSettings } from './acme.js';

const MAX_SMALL_FILE = 64 * 1024;

/** Small inputs (account files, the EAB key, the ACME server's CA) read bounded: regular files, 64 KiB. */
export async function readSmall(file: string, what: string): Promise<string> {
  const { readInputFile } = await import('../../pki/input-file.js');
  return (await readInputFile(file, { maxBytes: MAX_SMALL_FILE, what })).toString('utf8');
}

/** The ACME server's own TLS trust (--acme-ca), read bounded; undefined: Node's CA store. */
export async function acmeServerCa(s: AcmeSettings): Promise<Buffer | undefined> {
  return s.acmeCa ? Buffer.from(await readSmall(s.acmeCa, "the ACME server's CA certificate")) : undefined;
}

export interface Account {
  directory: string;
  accountUrl: string;
  email?: string;
  createdAt: string;
}

export type AccountFiles = ReturnType<typeof accountFiles>;

/** Where the account of directory `url` is kept (`slug`: net/acme.ts accountSlug). */
export function accountFiles(url: string, slug: string) {
  const dir = path.join(stateDir(), 'acme');
  return { dir, json: path.join(dir, `${slug}.json`), key: path.join(dir, `${slug}.key`), url };
}

/**
 * The stored account of this directory, or a new key for one (saved once the CA knows it). The
 * account key signs EAB bindings and orders: one planted by another user would take them over,
 * so the files are read only when they are this user's and private (state-dir.ts).
 */
export async function loadAccount(f: AccountFiles): Promise<{ keyPem: string; account?: Account }> {
  const keyPem = stateFolder('acme', false)
    ? readStateFile(f.key, { secret: true, maxBytes: MAX_SMALL_FILE })
    : undefined;
  if (keyPem === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
  }
  let account: Account | undefined;
  const text = readStateFile(f.json, { maxBytes: MAX_SMALL_FILE });
  try {
    account = text === undefined ? undefined : (JSON.parse(text) as Account);
  } catch {
    throw new InputError(`${f.json}: not valid JSON`, {
      file: f.json,
      hint: 'Remove it (and the .key beside it) to register a new ACME account.',
    });
  }
  const valid =
    account?.directory === f.url && typeof account.accountUrl === 'string' && /^https?:\/\//.test(account.accountUrl);
  return { keyPem, account: valid ? account : undefined };
}

export function saveAccount(f: AccountFiles, keyPem: string, a: Account): void {
  ensureStateFolder('acme');
  // An existing key file is the key this run loaded, unless a concurrent run saved its own first:
  // then this account is not recorded (the next run finds that key's account by newAccount).
  if (!createStateFile(f.key, keyPem) && readStateFile(f.key, { secret: true, maxBytes: MAX_SMALL_FILE }) !== keyPem)
    return;
  writeStateFile(f.json, JSON.stringify(a, null, 2) + '\n');
}
