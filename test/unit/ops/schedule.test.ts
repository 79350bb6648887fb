import { execFileSync } from 'node:child_process';
import { cronLine, shQuote, spreadTime, systemdUnits } from '../../../src/ops/schedule.js';

const input = {
  node: '/usr/bin/node',
  script: '/opt/xsoar cert/bin/xsoar-cert.js',
  args: ['--from', '/srv/certs', '--before', '30'],
  logFile: '/var/log/xsoar-cert/renew.log',
  env: { KUBECONFIG: '/home/viewer/.kube/config' },
  minute: 17,
  hour: 3,
};

test('the cron line has absolute paths, pinned env, logging, and survives /bin/sh parsing', () => {
  const line = cronLine(input);
  expect(line.startsWith('17 3 * * * KUBECONFIG=/home/viewer/.kube/config /usr/bin/node ')).toBe(true);
  expect(line).toContain(`'/opt/xsoar cert/bin/xsoar-cert.js' renew --from /srv/certs --before 30`);
  expect(line.endsWith('>> /var/log/xsoar-cert/renew.log 2>&1')).toBe(true);
  // The command part must split into the intended words under a real shell.
  const cmd = line
    .split(' ')
    .slice(5)
    .join(' ')
    .replace(/ >>.*$/, '');
  const words = execFileSync(
    'sh',
    ['-c', `for w in ${cmd.replace(/^KUBECONFIG=\S+ /, '')}; do printf '%s\\n' "$w"; done`],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n');
  expect(words).toEqual([
    '/usr/bin/node',
    '/opt/xsoar cert/bin/xsoar-cert.js',
    'renew',
    '--from',
    '/srv/certs',
    '--before',
    '30',
  ]);
});

test('percent signs are escaped for cron', () => {
  expect(cronLine({ ...input, args: ['--before-percent', '25%'] })).toContain('25\\%');
});

test('shQuote leaves safe words alone and quotes the rest', () => {
  expect(shQuote('/usr/bin/node')).toBe('/usr/bin/node');
  expect(shQuote("it's")).toBe(`'it'\\''s'`);
});

test('systemd units: oneshot service with the command and a daily persistent timer', () => {
  const { service, timer } = systemdUnits(input);
  expect(service).toMatch(/^Type=oneshot$/m);
  expect(service).toContain(
    'ExecStart=/usr/bin/node "/opt/xsoar cert/bin/xsoar-cert.js" renew --from /srv/certs --before 30',
  );
  expect(service).toContain('StandardOutput=append:/var/log/xsoar-cert/renew.log');
  expect(timer).toMatch(/^OnCalendar=\*-\*-\* 03:17:00$/m);
  expect(timer).toMatch(/^Persistent=true$/m);
});

test('spreadTime is stable per seed, in quiet hours, and differs across tenants', () => {
  expect(spreadTime('t1/xsoar-tls')).toEqual(spreadTime('t1/xsoar-tls'));
  const times = new Set(Array.from({ length: 50 }, (_, i) => JSON.stringify(spreadTime(`tenant-${i}/xsoar-tls`))));
  expect(times.size).toBeGreaterThan(30);
  for (let i = 0; i < 50; i++) {
    const t = spreadTime(`tenant-${i}`);
    expect(t.hour).toBeGreaterThanOrEqual(1);
    expect(t.hour).toBeLessThanOrEqual(5);
    expect(t.minute).toBeLessThan(60);
  }
});
