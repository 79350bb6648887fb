// The PEM-files target's pure plan: flags, what each file holds, who can read it, kept versions,
// and the source systems' recipes (demisto.conf, XSOAR 8's three names).
import {
  assertServiceCanRead,
  backupName,
  backupsToPrune,
  canRead,
  certificateBlocks,
  digestOf,
  filesId,
  layout,
  parseFilesFlag,
  parseModeFlag,
  parseOwnerFlag,
  sameVersion,
  withBackup,
  type BackupEntry,
} from '../../../src/ops/targets/files/plan.js';
import { demistoPaths, xsoar8Missing, checkXsoar8, fileTarget } from '../../../src/ops/targets/files/presets.js';
import type { NewContent } from '../../../src/ops/txn/types.js';

const pem = (tag: string, body: string) => `-----BEGIN ${tag}-----\n${body}\n-----END ${tag}-----\n`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const content = (crt: string, key: string, ca?: string): NewContent => ({
  data: { 'tls.crt': b64(crt), 'tls.key': b64(key), ...(ca ? { 'ca.crt': b64(ca) } : {}) },
  fingerprint: 'AA',
  notAfter: '2030-01-01T00:00:00.000Z',
  names: ['a.example.com'],
  label: 'new.pem',
});

test('--files: two paths, or one combined PEM; anything else is a usage error', () => {
  expect(parseFilesFlag('/a/cert.pem,/a/cert.key')).toEqual({ cert: '/a/cert.pem', key: '/a/cert.key' });
  expect(parseFilesFlag('/etc/haproxy/site.pem')).toEqual({ cert: '/etc/haproxy/site.pem' });
  for (const bad of ['', 'a,,b', 'a,b,c', '/x,/x', 'a,']) expect(() => parseFilesFlag(bad)).toThrow(/--files/);
});

test('--mode: octal CERT,KEY; a key readable by others, or an owner who cannot read, is refused', () => {
  expect(parseModeFlag('0640,0600', false)).toEqual({ cert: 0o640, key: 0o600 });
  expect(parseModeFlag('644', false)).toEqual({ cert: 0o644, key: 0o600 });
  expect(parseModeFlag('0600', true)).toEqual({ cert: 0o600, key: 0o600 });
  expect(() => parseModeFlag('0644,0644', false)).toThrow(/readable by every local user/);
  expect(() => parseModeFlag('0644', true)).toThrow(/readable by every local user/);
  expect(() => parseModeFlag('0640,0200', false)).toThrow(/owner must be able to read/);
  expect(() => parseModeFlag('rw,r', false)).toThrow(/octal/);
  expect(() => parseModeFlag('0640,0600', true)).toThrow(/one octal mode/);
});

test('--owner: USER:GROUP', () => {
  expect(parseOwnerFlag('demisto:demisto')).toEqual({ user: 'demisto', group: 'demisto' });
  expect(parseOwnerFlag('1000:1000')).toEqual({ user: '1000', group: '1000' });
  for (const bad of ['demisto', ':x', 'a:b:c', 'a b:c', 'x;rm:y']) expect(() => parseOwnerFlag(bad)).toThrow(/--owner/);
});

test('one state name per set of files, an RFC 1123 name', () => {
  const id = filesId({ cert: '/a/cert.pem', key: '/a/cert.key' });
  expect(id).toMatch(/^files-[0-9a-f]{12}$/);
  expect(filesId({ cert: '/a/cert.pem', key: '/a/cert.key' })).toBe(id);
  expect(filesId({ cert: '/a/cert.pem' })).not.toBe(id);
  expect(backupName(id, new Date('2026-01-02T03:04:05Z'), 'ab12')).toBe(`${id}-prev-20260102030405-ab12`);
});

test('layout: the key first, then the chain; only CERTIFICATE blocks; XSOAR 6 appends the CA', () => {
  const leaf = pem('CERTIFICATE', 'LEAF');
  const int = pem('CERTIFICATE', 'INT');
  const root = pem('CERTIFICATE', 'ROOT');
  const key = pem('PRIVATE KEY', 'KEY');
  const crt = `${leaf}${pem('EC PARAMETERS', 'P')}${int}`;
  const w = layout({
    paths: { cert: '/d/cert.pem', key: '/d/cert.key' },
    content: content(crt, key, root),
    modes: { cert: 0o640, key: 0o600 },
    owner: { uid: 999, gid: 998 },
    withCa: true,
  });
  expect(w.map((x) => [x.path, x.role, x.mode, x.uid, x.gid])).toEqual([
    ['/d/cert.key', 'key', 0o600, 999, 998],
    ['/d/cert.pem', 'cert', 0o640, 999, 998],
  ]);
  expect(w[1]!.data.toString()).toBe(leaf + int + root);
  expect(w[0]!.data.toString()).toBe(key);
  const plain = layout({
    paths: { cert: '/d/cert.pem', key: '/d/cert.key' },
    content: content(crt, key, root),
    modes: { cert: 0o644, key: 0o600 },
    owner: { uid: 0, gid: 0 },
  });
  expect(plain[1]!.data.toString()).toBe(leaf + int);
  const combined = layout({
    paths: { cert: '/d/site.pem' },
    content: content(leaf, key),
    modes: { cert: 0o600, key: 0o600 },
    owner: { uid: 0, gid: 0 },
  });
  expect(combined.map((x) => [x.role, x.data.toString(), x.mode])).toEqual([['combined', leaf + key, 0o600]]);
  expect(certificateBlocks('junk\r\n' + leaf.replace(/\n/g, '\r\n'))).toBe(leaf);
});

test('the service that reads the files today must still read them', () => {
  expect(canRead({ uid: 0, gid: 0 }, { uid: 5, gid: 5, mode: 0o000 })).toBe(true);
  expect(canRead({ uid: 5, gid: 5 }, { uid: 5, gid: 1, mode: 0o400 })).toBe(true);
  expect(canRead({ uid: 5, gid: 5 }, { uid: 1, gid: 5, mode: 0o640 })).toBe(true);
  expect(canRead({ uid: 5, gid: 5 }, { uid: 1, gid: 1, mode: 0o640 })).toBe(false);
  const found = [{ path: '/d/cert.key', bytes: Buffer.from(''), uid: 999, gid: 999, mode: 0o600 }];
  const write = { path: '/d/cert.key', role: 'key' as const, data: Buffer.from(''), uid: 0, gid: 0, mode: 0o600 };
  expect(() => assertServiceCanRead(found, [write], 'demisto:demisto')).toThrow(
    /\/d\/cert\.key: the service reads it today as uid 999 .* could not read it: nothing was changed/,
  );
  expect(() => assertServiceCanRead(found, [{ ...write, uid: 999, gid: 999 }], 'x')).not.toThrow();
  expect(() => assertServiceCanRead(found, [{ ...write, gid: 999, mode: 0o640 }], 'x')).not.toThrow();
});

test('kept versions: one copy per version, newest first, the three newest kept', () => {
  const e = (name: string, digest: string): BackupEntry => ({ name, digest: digest.repeat(64), savedAt: name });
  let kept: BackupEntry[] = [];
  for (const [n, d] of [
    ['1', 'a'],
    ['2', 'b'],
    ['3', 'a'],
    ['4', 'c'],
    ['5', 'd'],
  ] as const)
    kept = withBackup(kept, e(n, d));
  expect(kept.map((b) => b.name)).toEqual(['5', '4', '3', '2']);
  expect(sameVersion(kept, 'b'.repeat(64))?.name).toBe('2');
  expect(backupsToPrune(kept)).toEqual({ kept: kept.slice(0, 3), pruned: [kept[3]] });
  expect(digestOf([{ bytes: Buffer.from('ab') }, { bytes: Buffer.from('c') }])).not.toBe(
    digestOf([{ bytes: Buffer.from('a') }, { bytes: Buffer.from('bc') }]),
  );
});

test('demisto.conf: Security.CertFile/KeyFile nested or dotted; anything odd leaves the defaults with a note', () => {
  const notes: string[] = [];
  expect(demistoPaths('{"Security":{"CertFile":"/x/c.pem","KeyFile":"/x/c.key"}}', 'f', notes)).toEqual({
    cert: '/x/c.pem',
    key: '/x/c.key',
  });
  expect(demistoPaths('{"Security.CertFile":"/y/c.pem"}', 'f', notes)).toEqual({ cert: '/y/c.pem', key: undefined });
  expect(demistoPaths(undefined, 'f', notes)).toEqual({});
  expect(notes).toEqual([]);
  expect(demistoPaths('{not json', 'f', notes)).toEqual({});
  expect(demistoPaths('{"Security":{"CertFile":"relative.pem","KeyFile":""}}', 'f', notes)).toEqual({
    cert: undefined,
    key: undefined,
  });
  expect(notes).toEqual([
    'f is not JSON: using the default paths',
    'f: Security.CertFile is not an absolute path: using the default',
  ]);
});

test('--preset xsoar6 without a demisto.conf: the documented paths, owner, modes and restart', () => {
  process.env.XSOAR_CERT_DEMISTO_CONF = '/nonexistent/demisto.conf';
  try {
    expect(fileTarget({ preset: 'xsoar6' })).toEqual({
      paths: { cert: '/usr/local/demisto/cert.pem', key: '/usr/local/demisto/cert.key' },
      owner: { user: 'demisto', group: 'demisto' },
      modes: { cert: 0o640, key: 0o600 },
      restartCmd: 'systemctl restart demisto',
      withCa: true,
      notes: [],
    });
    expect(fileTarget({ preset: 'xsoar6', owner: 'root:root' })?.owner).toEqual({ user: 'root', group: 'root' });
  } finally {
    delete process.env.XSOAR_CERT_DEMISTO_CONF;
  }
  expect(fileTarget({})).toBeUndefined();
  expect(() => fileTarget({ owner: 'a:b' })).toThrow(/--owner needs --files/);
  expect(() => fileTarget({ preset: 'xsoar7' })).toThrow(/--preset/);
});

test('--preset xsoar8: xsoar., api-xsoar. and ext-xsoar. + domain, or one wildcard', () => {
  expect(xsoar8Missing(['xsoar.example.com', 'api-xsoar.example.com'], 'example.com')).toEqual([
    'ext-xsoar.example.com',
  ]);
  expect(xsoar8Missing(['*.example.com'], 'example.com')).toEqual([]);
  expect(xsoar8Missing(['*.com'], 'example.com')).toHaveLength(3);
  expect(() => checkXsoar8(['xsoar.example.com'], 'example.com', 't.pem')).toThrow(
    /^t\.pem does not cover api-xsoar\.example\.com, ext-xsoar\.example\.com: /,
  );
  expect(() => checkXsoar8([], undefined, 't.pem')).toThrow(/needs --domain/);
  expect(() => checkXsoar8([], 'not a domain', 't.pem')).toThrow(/--domain/);
});
