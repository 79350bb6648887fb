// Names in a certificate request: what a public CA refuses, and how an IDN is written.
import { requestName } from '../../../src/pki/hostname.js';

test.each([
  ['xsoar.example.com', 'xsoar.example.com'],
  ['XSOAR.Example.COM.', 'xsoar.example.com'],
  ['*.example.com', '*.example.com'],
  ['localhost', 'localhost'],
  ['10.0.0.5', '10.0.0.5'],
  ['[2001:db8::1]', '2001:db8::1'],
  ['bücher.example', 'xn--bcher-kva.example'],
  ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
])('%s is requested as %s', (input, name) => {
  expect(requestName(input)).toMatchObject({ name });
});

test.each([
  ['xsoar', /single-label/],
  ['a.*.example.com', /leftmost label/],
  ['w*.example.com', /leftmost label/],
  ['-bad.example.com', /not a valid DNS label/],
  ['under_score.example.com', /not a valid DNS label/],
  ['xn--zz.example.com', /bad punycode/],
  [`${'a'.repeat(64)}.example.com`, /not a valid DNS label/],
])('%s is refused', (input, why) => {
  const r = requestName(input);
  expect('problem' in r && r.problem).toMatch(why);
});
