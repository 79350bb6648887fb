// renew's notifications, the pure parts: settings resolution (flags over the settings file), the
// events an outcome raises, the once-a-day rule for 'expiring', and the json/slack/teams/mail shapes.
import { InputError, UsageError } from '../../../src/errors.js';
import { DEFAULT_EXPIRING_DAYS, isLoopback, notifyCronArgs, resolveNotify } from '../../../src/ops/notify-settings.js';
import {
  attemptEvents,
  bodyLines,
  expiringNoticeDue,
  mailMessage,
  resultWord,
  title,
  webhookBody,
  type NotifyDoc,
} from '../../../src/ops/notify-message.js';

const CFG = '/etc/xsoar-cert/config.json';

describe('resolveNotify', () => {
  test('no channel: no notifications', () => {
    expect(resolveNotify({}, {}, CFG)).toBeUndefined();
  });

  test('defaults: failure and expiring, json, 14 days', () => {
    expect(resolveNotify({ notifyCmd: 'logger' }, {}, CFG)).toEqual({
      on: ['failure', 'expiring'],
      cmd: 'logger',
      url: undefined,
      format: 'json',
      ca: undefined,
      mail: undefined,
      expiringDays: DEFAULT_EXPIRING_DAYS,
    });
  });

  test('--notify-on is repeatable and takes comma lists; duplicates collapse', () => {
    const s = resolveNotify({ notifyOn: ['failure,change', 'change', ' expiring'], notifyCmd: 'x' }, {}, CFG);
    expect(s?.on).toEqual(['failure', 'change', 'expiring']);
  });

  test('flags win over the settings file, key by key', () => {
    const file = {
      on: ['change'],
      url: 'https://hooks.example.com/a',
      format: 'slack',
      cmd: 'from-file',
      expiringDays: 30,
    };
    const s = resolveNotify({ notifyUrl: 'https://teams.example.com/b', notifyFormat: 'teams' }, file, CFG)!;
    expect(s).toMatchObject({
      on: ['change'],
      url: 'https://teams.example.com/b',
      format: 'teams',
      cmd: 'from-file',
      expiringDays: 30,
    });
    expect(resolveNotify({ notifyOn: ['failure'] }, file, CFG)!.on).toEqual(['failure']);
  });

  test('the settings file alone is enough, "on" as a list or a comma string', () => {
    expect(resolveNotify({}, { on: 'failure,change', cmd: 'x' }, CFG)!.on).toEqual(['failure', 'change']);
  });

  test('a bad flag is a usage error naming the flag; a bad file value names the file and key', () => {
    expect(() => resolveNotify({ notifyOn: ['failed'], notifyCmd: 'x' }, {}, CFG)).toThrow(UsageError);
    expect(() => resolveNotify({ notifyOn: ['failed'], notifyCmd: 'x' }, {}, CFG)).toThrow(/--notify-on: .*"failed"/);
    expect(() => resolveNotify({}, { on: ['soon'], cmd: 'x' }, CFG)).toThrow(InputError);
    expect(() => resolveNotify({}, { on: ['soon'], cmd: 'x' }, CFG)).toThrow(/config\.json: the setting "notify\.on"/);
    expect(() => resolveNotify({ notifyUrl: 'https://x', notifyFormat: 'xml' }, {}, CFG)).toThrow(/--notify-format/);
    expect(() => resolveNotify({}, { cmd: 'x', expiringDays: 0 }, CFG)).toThrow(/notify\.expiringDays/);
    expect(() => resolveNotify({}, { cmd: 7 }, CFG)).toThrow(/notify\.cmd/);
  });

  test('webhook URLs: https anywhere, plain http only to this host', () => {
    for (const u of [
      'https://hooks.slack.com/services/T/B/X',
      'http://127.0.0.1:8080/h',
      'http://[::1]/h',
      'http://localhost/h',
    ])
      expect(resolveNotify({ notifyUrl: u }, {}, CFG)!.url).toBe(u);
    expect(() => resolveNotify({ notifyUrl: 'http://hooks.example.com/h' }, {}, CFG)).toThrow(/must be https/);
    expect(() => resolveNotify({ notifyUrl: 'ftp://127.0.0.1/h' }, {}, CFG)).toThrow(/must be https/);
    expect(() => resolveNotify({ notifyUrl: 'not a url' }, {}, CFG)).toThrow(/not a URL/);
    expect(() => resolveNotify({}, { url: 'http://10.0.0.1/h' }, CFG)).toThrow(/notify\.url/);
  });

  test('format and CA without a channel that uses them are refused', () => {
    expect(() => resolveNotify({ notifyFormat: 'slack' }, {}, CFG)).toThrow(/need --notify-cmd/);
    expect(() => resolveNotify({ notifyCmd: 'x', notifyFormat: 'slack' }, {}, CFG)).toThrow(/for --notify-url/);
    expect(() => resolveNotify({ notifyCmd: 'x', notifyCa: '/ca.pem' }, {}, CFG)).toThrow(/--notify-ca is for/);
  });

  test('mail: the flag names the recipient, the settings file the server; localhost:25 by default', () => {
    const m = resolveNotify({ notifyMail: 'ops@example.com' }, {}, CFG)!.mail!;
    expect(m).toMatchObject({ to: ['ops@example.com'], host: 'localhost', port: 25, starttls: false });
    expect(m.from).toMatch(/^xsoar-cert@/);
    const file = {
      mail: {
        to: 'a@example.com, b@example.com',
        from: 'pki@example.com',
        host: 'smtp.example.com',
        port: 587,
        starttls: true,
        user: 'pki',
        passwordFile: '/etc/xsoar-cert/smtp.pass',
      },
    };
    expect(resolveNotify({}, file, CFG)!.mail).toEqual({
      to: ['a@example.com', 'b@example.com'],
      from: 'pki@example.com',
      host: 'smtp.example.com',
      port: 587,
      starttls: true,
      user: 'pki',
      passwordFile: '/etc/xsoar-cert/smtp.pass',
    });
    expect(resolveNotify({ notifyMail: 'c@example.com' }, file, CFG)!.mail!.to).toEqual(['c@example.com']);
  });

  test('mail: addresses that could add a header or a recipient, bad ports, a password in clear are refused', () => {
    expect(() => resolveNotify({ notifyMail: 'ops@example.com>\r\nBcc: x@y' }, {}, CFG)).toThrow(/--notify-mail/);
    expect(() => resolveNotify({ notifyMail: 'Ops <ops@example.com>' }, {}, CFG)).toThrow(/not a mail address/);
    expect(() => resolveNotify({}, { mail: { to: 'a@example.com', port: 70000 } }, CFG)).toThrow(/mail\.port/);
    expect(() => resolveNotify({}, { mail: { to: 'a@example.com', host: 'smtp:25' } }, CFG)).toThrow(/mail\.host/);
    expect(() => resolveNotify({}, { mail: { to: 'a@example.com', user: 'u' } }, CFG)).toThrow(/passwordFile/);
    const clear = { mail: { to: 'a@example.com', host: 'smtp.example.com', user: 'u', passwordFile: '/p' } };
    expect(() => resolveNotify({}, clear, CFG)).toThrow(/starttls.*in clear/);
    const local = { mail: { to: 'a@example.com', host: '127.0.0.1', user: 'u', passwordFile: '/p' } };
    expect(resolveNotify({}, local, CFG)!.mail!.user).toBe('u');
  });

  test('isLoopback', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', 'example.com', '128.0.0.1', 'localhost.example.com'].some(isLoopback)).toBe(false);
  });

  test('--print-cron repeats the notify flags, the CA as an absolute path', () => {
    const args = notifyCronArgs({ notifyOn: ['failure', 'change'], notifyUrl: 'https://h/x', notifyCa: 'ca.pem' });
    expect(args.slice(0, 4)).toEqual(['--notify-on', 'failure,change', '--notify-url', 'https://h/x']);
    expect(args[4]).toBe('--notify-ca');
    expect(args[5]).toMatch(/^\/.*\/ca\.pem$/);
    expect(notifyCronArgs({})).toEqual([]);
  });
});

describe('events', () => {
  const o = (exitCode: number, action?: 'renewed' | 'skipped' | 'dry-run') => ({
    namespace: 'ns',
    secret: 's',
    exitCode,
    action,
    message: 'm',
  });
  test('a failure is a failure; a renewal a change; a healthy "not due" run nothing', () => {
    const all = ['failure', 'change', 'expiring'] as const;
    expect(attemptEvents(o(3), all)).toEqual(['failure']);
    expect(attemptEvents(o(0, 'renewed'), all)).toEqual(['change']);
    expect(attemptEvents(o(0, 'skipped'), all)).toEqual([]);
    expect(attemptEvents(o(0, 'dry-run'), all)).toEqual([]);
    expect(attemptEvents(o(0, 'renewed'), ['failure', 'expiring'])).toEqual([]);
  });
  test('a rollback is one message: a failure, or a change when only changes are asked for', () => {
    expect(attemptEvents(o(5), ['failure', 'change'])).toEqual(['failure']);
    expect(attemptEvents(o(5), ['change'])).toEqual(['change']);
    expect(attemptEvents(o(3), ['change'])).toEqual([]);
  });
  test('result words follow the renewal state', () => {
    expect([3, 4, 5, 6, 7, 9, 130, 70].map((exitCode) => resultWord({ exitCode }))).toEqual([
      'refused',
      'refused',
      'rolled-back',
      'rollback-failed',
      'busy',
      'ca-refused',
      'cancelled',
      'refused',
    ]);
    expect(resultWord({ exitCode: 0, action: 'skipped' })).toBe('skipped');
  });
  test("'expiring' at most once per calendar day", () => {
    const now = new Date(2026, 4, 10, 15, 0);
    expect(expiringNoticeDue(undefined, now)).toBe(true);
    expect(expiringNoticeDue(new Date(2026, 4, 10, 0, 5).toISOString(), now)).toBe(false);
    expect(expiringNoticeDue(new Date(2026, 4, 9, 23, 55).toISOString(), now)).toBe(true);
    expect(expiringNoticeDue(new Date(2026, 4, 11, 1, 0).toISOString(), now)).toBe(true); // a clock set back
  });
});

describe('formats', () => {
  const at = '2026-05-10T12:00:00.000Z';
  const doc = (over: Partial<NotifyDoc> = {}): NotifyDoc => ({
    tenant: 'tenant-1/xsoar-tls',
    namespace: 'tenant-1',
    secret: 'xsoar-tls',
    event: 'failure',
    result: 'refused',
    exitCode: 3,
    message: '/srv/drop: no certificate found <here> & there',
    expiry: '2026-05-15T12:00:00.000Z',
    nextAttempt: '2026-05-10T13:00:00.000Z',
    at,
    host: 'jump1',
    ...over,
  });

  test('json is the document itself', () => {
    expect(webhookBody(doc(), 'json')).toEqual(doc());
  });

  test('slack: {"text"}, with &, < and > escaped', () => {
    const b = webhookBody(doc(), 'slack') as { text: string };
    expect(Object.keys(b)).toEqual(['text']);
    expect(b.text).toMatch(/^\*xsoar-cert: renewal of tenant-1\/xsoar-tls failed\*\n/);
    expect(b.text).toContain('no certificate found &lt;here&gt; &amp; there');
    expect(b.text).toContain('xsoar-cert status -n tenant-1');
  });

  test('teams: an Adaptive Card in a message attachment', () => {
    const b = webhookBody(doc({ event: 'change', result: 'renewed', exitCode: 0 }), 'teams') as {
      type: string;
      attachments: {
        contentType: string;
        content: { type: string; version: string; body: { type: string; text?: string }[] };
      }[];
    };
    expect(b.type).toBe('message');
    expect(b.attachments).toHaveLength(1);
    expect(b.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = b.attachments[0]!.content;
    expect(card.type).toBe('AdaptiveCard');
    expect(card.body[0]).toMatchObject({ type: 'TextBlock', text: 'xsoar-cert: tenant-1/xsoar-tls renewed' });
    expect(card.body.map((x) => x.type)).toEqual(['TextBlock', 'TextBlock', 'FactSet']);
  });

  test('mail subjects and a body that says what happened and what to do', () => {
    const f = mailMessage(doc());
    expect(f.subject).toBe('xsoar-cert: renewal of tenant-1/xsoar-tls failed');
    expect(f.text).toContain('failed at 2026-05-10T12:00:00.000Z (refused, exit 3)');
    expect(f.text).toContain('  /srv/drop: no certificate found <here> & there');
    expect(f.text).toContain('2026-05-15T12:00:00.000Z (expires in 5 days)');
    expect(f.text).toContain('  xsoar-cert status -n tenant-1\n  xsoar-cert audit --failed --since 7d\n');
    expect(mailMessage(doc({ event: 'change', result: 'renewed', exitCode: 0 })).subject).toBe(
      'xsoar-cert: tenant-1/xsoar-tls renewed',
    );
    expect(mailMessage(doc({ event: 'change', result: 'renewed', exitCode: 0 })).text).not.toContain('What to do');
    expect(title(doc({ event: 'expiring' }))).toBe('xsoar-cert: tenant-1/xsoar-tls expires in 5 days');
    expect(bodyLines(doc({ event: 'expiring' })).join('\n')).toMatch(/at most once a day/);
    expect(title(doc({ event: 'expiring', expiry: '2026-05-11T00:00:00.000Z' }))).toMatch(/expires today$/);
    expect(bodyLines(doc({ exitCode: 5, result: 'rolled-back' })).join('\n')).toMatch(/previous one was restored/);
  });
});
