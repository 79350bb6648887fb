// Issue 16, finding 11: untrusted text reaches the terminal with its control characters escaped,
// while the output's own colours and line breaks stay.
import { jest } from '@jest/globals';
import { printable, printableJson, printableLines, printableRendered } from '../../src/printable.js';
import { fileLine } from '../../src/ops/sources/drop-folder.js';
import { reportError } from '../../src/cli/report-error.js';
import { CaError, InputError } from '../../src/errors.js';

const NAME = 'x\x1b]0;TITLE\x07\x1b[2Jy.pem';
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

function captured(fn: () => void): { stderr: string; stdout: string } {
  const out = { stderr: '', stdout: '' };
  const e = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((s: string | Uint8Array) => ((out.stderr += String(s)), true));
  const o = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((s: string | Uint8Array) => ((out.stdout += String(s)), true));
  try {
    fn();
  } finally {
    e.mockRestore();
    o.mockRestore();
  }
  return out;
}

test('finding 11: printable renders every control character as an escape', () => {
  expect(printable(NAME)).toBe('x\\e]0;TITLE\\a\\e[2Jy.pem');
  expect(printable('a\nb\rc\td\x00e\x7ff\x9bg')).toBe('a\\nb\\rc\\td\\x00e\\x7ff\\x9bg');
  expect(printable('tenant.example.com é ☃')).toBe('tenant.example.com é ☃');
  expect(printableLines('one\ntwo\x1b[2J')).toBe('one\ntwo\\e[2J');
});

test('finding 11: rendered output keeps its colours and line breaks, and nothing else raw', () => {
  const rendered = `\x1b[1mbold\x1b[22m ${NAME}\nsecond line \x1b[31mred\x1b[39m\x9b2J`;
  expect(printableRendered(rendered)).toBe(
    '\x1b[1mbold\x1b[22m x\\e]0;TITLE\\a\\e[2Jy.pem\nsecond line \x1b[31mred\x1b[39m\\x9b2J',
  );
  expect(printableJson(JSON.stringify({ s: 'a\x1b\x9b\x7f' }))).toBe('{"s":"a\\u001b\\u009b\\u007f"}');
});

test('finding 11: a drop-folder file named with escape sequences is printed escaped', () => {
  const line = fileLine({
    file: `/srv/drop/${NAME}`,
    holds: 'nothing readable',
    used: false,
    why: `${NAME}: no certificate`,
  });
  expect(line).toBe(
    'skipped /srv/drop/x\\e]0;TITLE\\a\\e[2Jy.pem: x\\e]0;TITLE\\a\\e[2Jy.pem: no certificate (it holds nothing readable)',
  );
  expect(line).not.toMatch(RAW);
});

test("finding 11: the error reporter escapes a CA's problem detail and a file name, in text and in JSON", () => {
  const ca = new CaError('the CA refused the order: \x1b]0;pwned\x07\x1b[2Jrate limited', 'Try later.\x1b[8m');
  const text = captured(() => reportError(ca, ['renew']));
  expect(text.stderr).toContain('the CA refused the order: \\e]0;pwned\\a\\e[2Jrate limited');
  expect(text.stderr).not.toMatch(RAW);
  const json = captured(() =>
    reportError(new InputError(`${NAME}: no such file`, { file: NAME }), ['inspect', '--json']),
  );
  expect(json.stdout).not.toMatch(RAW);
  expect(JSON.parse(json.stdout).error.message).toBe(`${NAME}: no such file`);
});
