// The shape checks of a CA's answers (src/net/acme-answers.ts): tokens, identifiers against the
// names ordered (wildcards, IP addresses), missing fields and wrong types, and how what the CA
// sent is shown (one line, escaped, short).
import { AnswerCheck, identifiersOf, isAcmeToken, isDnsName, shown } from '../../../src/net/acme-answers.js';
import { CaError } from '../../../src/errors.js';

const check = new AnswerCheck('ca.example:443');
const ordered = identifiersOf(['a.example.com', '*.example.com', '192.0.2.7', '2001:db8::1']);
const url = 'https://ca.example/authz/1';
const chall = { type: 'http-01', url: 'https://ca.example/chall/1', status: 'pending', token: 'abc_DEF-123' };
const authz = (identifier: unknown, extra: Record<string, unknown> = {}) => ({
  identifier,
  status: 'pending',
  challenges: [chall],
  ...extra,
});

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CaError);
    expect((err as CaError).exitCode).toBe(9);
    expect((err as Error).message).not.toMatch(/\n/);
    return (err as Error).message;
  }
  throw new Error('not refused');
}

test('finding 2: only base64url tokens (RFC 8555 8.1) are accepted', () => {
  for (const t of ['abc_DEF-123', 'A'.repeat(43)]) expect(isAcmeToken(t)).toBe(true);
  for (const t of ['../../../victim/important.txt', 'a/b', 'a.b', '', 'a\n', 'ab=', 42, undefined, 'A'.repeat(257)])
    expect(isAcmeToken(t)).toBe(false);
  expect(refused(() => check.token({ ...chall, token: '../x' }))).toBe(
    'the CA at ca.example:443 sent a http-01 challenge whose token is not base64url: "../x": nothing was published or changed; check that --acme names a CA you trust',
  );
});

test('finding 3: an authorization must be for a name ordered (wildcard: the bare name with wildcard: true; IP addresses too)', () => {
  expect(check.authz(authz({ type: 'dns', value: 'A.example.com' }), url, ordered).identifier).toEqual({
    type: 'dns',
    value: 'a.example.com',
  });
  expect(check.authz(authz({ type: 'dns', value: 'example.com' }, { wildcard: true }), url, ordered)).toMatchObject({
    wildcard: true,
    identifier: { value: 'example.com' },
  });
  expect(check.authz(authz({ type: 'ip', value: '192.0.2.7' }), url, ordered).identifier.type).toBe('ip');
  expect(check.authz(authz({ type: 'ip', value: '2001:db8::1' }), url, ordered).identifier.type).toBe('ip');
  expect(refused(() => check.authz(authz({ type: 'dns', value: 'example.com' }), url, ordered))).toMatch(
    /for a name that was not ordered: "example\.com"/,
  );
  expect(
    refused(() => check.authz(authz({ type: 'dns', value: 'a.example.com' }, { wildcard: true }), url, ordered)),
  ).toMatch(/not ordered: "\*\.a\.example\.com"/);
  expect(refused(() => check.authz(authz({ type: 'dns', value: '*.example.com' }), url, ordered))).toMatch(
    /not a DNS name or IP address/,
  );
  expect(refused(() => check.authz(authz({ type: 'dns', value: 'other.example.com' }), url, ordered))).toMatch(
    /not ordered: "other\.example\.com"/,
  );
  expect(refused(() => check.authz(authz({ type: 'ip', value: '192.0.2.8' }), url, ordered))).toMatch(
    /not ordered: "192\.0\.2\.8"/,
  );
  expect(refused(() => check.authz(authz({ type: 'dns', value: '192.0.2.7' }), url, ordered))).toMatch(/not ordered/);
  const newline = refused(() =>
    check.authz(authz({ type: 'dns', value: 'a.example.com\nupdate add x. 60 TXT y' }), url, ordered),
  );
  expect(newline).toContain('\\nupdate add x. 60 TXT y');
  for (const odd of [
    'a.example.com.',
    'a_b.example.com',
    'a..example.com',
    '-a.example.com',
    'a.example.com\u0000',
    'ä.example.com',
    'a example.com',
  ]) {
    expect(isDnsName(odd)).toBe(false);
  }
});

test('finding 3: an order may list only the names ordered, with one authorization each at most', () => {
  const order = {
    status: 'pending',
    identifiers: [{ type: 'dns', value: '*.example.com' }],
    authorizations: [url],
    finalize: 'https://ca.example/fin',
  };
  expect(check.order(order, 'https://ca.example/order/1', ordered).identifiers).toEqual([
    { type: 'dns', value: '*.example.com' },
  ]);
  expect(
    refused(() =>
      check.order(
        { ...order, identifiers: [{ type: 'dns', value: 'evil.example' }] },
        'https://ca.example/order/1',
        ordered,
      ),
    ),
  ).toMatch(/not ordered: "evil\.example"/);
  expect(
    refused(() => check.order({ ...order, authorizations: Array(5).fill(url) }, 'https://ca.example/order/1', ordered)),
  ).toMatch(/not a list of at most 4/);
});

test('finding 9: missing fields, wrong types, unknown statuses and non-https URLs are refused (exit 9), never a TypeError', () => {
  const bad: Array<[() => unknown, RegExp]> = [
    [
      () => check.authz(authz({ type: 'dns', value: 'a.example.com' }, { challenges: undefined }), url, ordered),
      /whose "challenges" is not a list: undefined/,
    ],
    [() => check.authz('a string', url, ordered), /an authorization that is not a JSON object: "a string"/],
    [() => check.authz(null, url, ordered), /not a JSON object: null/],
    [
      () => check.authz({ identifier: { type: 'dns', value: 42 }, status: true, challenges: 'dns-01' }, url, ordered),
      /not a DNS name or IP address: \{"type":"dns","value":42\}/,
    ],
    [
      () => check.authz(authz({ type: 'dns', value: 'a.example.com' }, { status: 'weird' }), url, ordered),
      /an authorization with the status "weird"/,
    ],
    [
      () => check.authz(authz({ type: 'dns', value: 'a.example.com' }, { wildcard: 'yes' }), url, ordered),
      /"wildcard" is not true\/false/,
    ],
    [
      () => check.challenge({ ...chall, url: 'http://ca.example/c' }),
      /a challenge "url" that is not an https URL: "http:\/\/ca\.example\/c"/,
    ],
    [() => check.challenge({ ...chall, type: 7 }), /a challenge whose "type" is not a string: 7/],
    [
      () =>
        check.order(
          { status: 'pending', identifiers: [], authorizations: [], finalize: 'https://x' },
          'https://x/o',
          ordered,
        ),
      /"identifiers" is not a list/,
    ],
    [
      () => check.directory({ newNonce: 'https://x/n', newAccount: 'https://x/a', newOrder: 42 }),
      /a directory "newOrder" that is not an https URL: 42/,
    ],
    [
      () =>
        check.directory({
          newNonce: 'https://x/n',
          newAccount: 'https://x/a',
          newOrder: 'https://x/o',
          meta: { externalAccountRequired: 'no' },
        }),
      /"externalAccountRequired" is not true\/false/,
    ],
    [() => check.chain({ certificate: 'x' }), /not a PEM certificate chain/],
    [() => check.url('https://user:pw@ca.example/x', 'an account location'), /not an https URL/],
  ];
  for (const [fn, re] of bad) expect(refused(fn)).toMatch(re);
  expect(
    check.directory({
      newNonce: 'https://x/n',
      newAccount: 'https://x/a',
      newOrder: 'https://x/o',
      meta: { termsOfService: 'https://x/tos' },
    }),
  ).toMatchObject({ meta: { termsOfService: 'https://x/tos', externalAccountRequired: false } });
});

test('finding 9: what the CA sent is one line: control characters escaped, cut at about 100 characters', () => {
  expect(shown('a\nb\u001b[2Jc\u0085\u202e')).toBe('"a\\nb\\u001b[2Jc\\u0085\\u202e"');
  const long = shown('x'.repeat(10_000));
  expect(long.length).toBeLessThanOrEqual(101);
  expect(long.endsWith('…')).toBe(true);
  expect(shown(undefined)).toBe('undefined');
});
