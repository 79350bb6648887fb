// Hostile and absurd inputs through the built CLI: each ends with one line naming the file and
// a documented exit code, never a hang, a stack trace or a silent exit. (How fast they end is
// measured by `npm run bench`, not asserted here.)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/run-cli.js';
import { issueCertificate } from '../../src/pki/generate.js';
import { MAX_CERT_FILE_BYTES } from '../../src/pki/input-file.js';

const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-hostile-'));
const f = (n: string) => path.join(dir, n);

/** One line on stderr (plus at most one hint line), no stack trace, the given exit code. */
function expectOneLine(r: { code: number; stderr: string; stdout: string }, code: number, re: RegExp) {
  expect({ code: r.code, first: r.stderr.split('\n')[0] }).toEqual({ code, first: expect.stringMatching(re) });
  expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  expect(r.stderr).not.toMatch(/\n\s+at |Error:|internal error/);
}

let certPem: string;
let certDer: Buffer;
beforeAll(async () => {
  const c = await issueCertificate({
    subject: 'hostile.example',
    dnsNames: ['hostile.example'],
    key: { type: 'ecdsa' },
  });
  certPem = c.certPem;
  certDer = Buffer.from(certPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
});

describe('files that are not files', () => {
  test('/dev/zero as --cert, and as --passphrase-file', async () => {
    expectOneLine(
      await runCli(['verify', '--cert', '/dev/zero', '--no-tls']),
      3,
      /\/dev\/zero: is a character device, not a certificate or key file/,
    );
    writeFileSync(f('p12.bin'), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x03]));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        f('k.pem'),
        '-out',
        f('c.pem'),
        '-subj',
        '/CN=x',
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    execFileSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      f('c.pem'),
      '-inkey',
      f('k.pem'),
      '-passout',
      'pass:x',
      '-out',
      f('a.p12'),
    ]);
    expectOneLine(
      await runCli(['inspect', f('a.p12'), '--passphrase-file', '/dev/zero']),
      3,
      /\/dev\/zero: is a character device, not a passphrase file/,
    );
  });

  test('a FIFO with no writer as --cert ends at once (it used to hang forever)', async () => {
    execFileSync('mkfifo', [f('fifo')]);
    expectOneLine(
      await runCli(['inspect', f('fifo')], { timeoutMs: 10000 }),
      3,
      /fifo: is a named pipe \(FIFO\), not a certificate or key file/,
    );
  });

  test('a FIFO with a writer is refused too; a passphrase through a pipe is read (bounded)', async () => {
    execFileSync('mkfifo', [f('fifo2')]);
    const writer = spawn('sh', ['-c', `cat ${JSON.stringify(f('c.pem'))} > ${JSON.stringify(f('fifo2'))}`]);
    expectOneLine(await runCli(['inspect', f('fifo2')], { timeoutMs: 10000 }), 3, /is a named pipe/);
    writer.kill();
    // bash process substitution: --passphrase-file <(printf x)
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(
        'bash',
        [
          '-c',
          `node ${JSON.stringify(path.resolve('bin/xsoar-cert.js'))} inspect ${JSON.stringify(f('a.p12'))} --passphrase-file <(printf x)`,
        ],
        { env: { ...process.env, NO_COLOR: '1' } },
      );
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
    expect(r.stdout).toMatch(/CN=x/);
  });

  test(`a file over the limit (${MAX_CERT_FILE_BYTES / 1024 / 1024} MiB) is refused before it is read`, async () => {
    writeFileSync(f('huge.pem'), certPem.repeat(Math.ceil((MAX_CERT_FILE_BYTES + 1) / certPem.length)));
    expectOneLine(
      await runCli(['verify', '--cert', f('huge.pem'), '--no-tls']),
      3,
      /huge\.pem: is 1\.\d MiB, more than a certificate or key file can be \(limit 1 MiB\)/,
    );
  });
});

describe('content built to be slow or to break a parser', () => {
  test('a BEGIN line with no END in a large file (the scan used to be quadratic)', async () => {
    writeFileSync(f('no-end.pem'), '-----BEGIN CERTIFICATE-----\n' + 'QUFB\n'.repeat(180_000));
    expectOneLine(
      await runCli(['inspect', f('no-end.pem')]),
      3,
      /no-end\.pem: the PEM block "CERTIFICATE" has no END line: the file is truncated/,
    );
    writeFileSync(f('many-begins.pem'), certPem + '-----BEGIN CERTIFICATE-----\n'.repeat(30_000));
    expectOneLine(
      await runCli(['inspect', f('many-begins.pem')]),
      3,
      /many-begins\.pem: the last PEM block "CERTIFICATE" has no END line/,
    );
  });

  test('400 CA certificates with the same name: path building stops at its bound with a message', async () => {
    const cas = [await issueCertificate({ subject: 'CN=Same CA', isCA: true, key: { type: 'ecdsa' }, omitSki: true })];
    for (let i = 1; i < 400; i++)
      cas.push(
        await issueCertificate({
          subject: 'CN=Same CA',
          isCA: true,
          key: { type: 'ecdsa' },
          issuer: cas[i - 1]!,
          omitSki: true,
        }),
      );
    const leaf = await issueCertificate({
      subject: 'x.example.com',
      dnsNames: ['x.example.com'],
      issuer: cas[399]!,
      key: { type: 'ecdsa' },
      omitAki: true,
    });
    writeFileSync(f('same-name.pem'), cas.map((c) => c.certPem).join(''));
    writeFileSync(f('same-leaf.pem'), leaf.certPem);
    writeFileSync(f('same-all.pem'), leaf.certPem + cas.map((c) => c.certPem).join(''));
    const msg =
      /gave up building the chain of "x\.example\.com" .* after \d+ signature checks: the input holds 400 CA certificates with the same name/;
    expectOneLine(
      await runCli(['verify', '--cert', f('same-leaf.pem'), '--chain', f('same-name.pem'), '--no-tls']),
      3,
      msg,
    );
    expectOneLine(await runCli(['chain', f('same-all.pem')]), 3, msg);
  });

  test('a certificate whose public key does not decode, and one with an impossible date: input errors naming the certificate', async () => {
    const badKey = Buffer.from(certDer);
    const at = badKey.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04]));
    badKey[at + 3] = 0x00; // the EC point's form byte
    writeFileSync(f('bad-key.der'), badKey);
    expectOneLine(
      await runCli(['inspect', f('bad-key.der')]),
      3,
      /bad-key\.der: certificate #1 is damaged: its public key cannot be decoded/,
    );
    const badDate = Buffer.from(certDer);
    const t = badDate.indexOf(Buffer.from([0x17, 0x0d]));
    badDate.write('13', t + 4, 'latin1'); // month 13
    writeFileSync(
      f('bad-date.pem'),
      `-----BEGIN CERTIFICATE-----\n${badDate.toString('base64')}\n-----END CERTIFICATE-----\n`,
    );
    for (const cmd of [
      ['inspect', f('bad-date.pem')],
      ['chain', f('bad-date.pem')],
      ['verify', '--cert', f('bad-date.pem'), '--no-tls'],
    ]) {
      expectOneLine(
        await runCli(cmd),
        3,
        /bad-date\.pem: certificate #1 is damaged: its validity dates cannot be read/,
      );
    }
  });

  test('chain on bit-flipped DER keys: every non-zero exit prints one line', async () => {
    const key = execFileSync('openssl', ['pkey', '-in', f('k.pem'), '-outform', 'DER']);
    for (const i of [0, 1, 2, 5, 7, 10, 30, key.length - 1]) {
      const flipped = Buffer.from(key);
      flipped[i]! ^= 0x01;
      writeFileSync(f('flipped.der'), flipped);
      for (const json of [[], ['--json']]) {
        const r = await runCli(['chain', f('flipped.der'), ...json]);
        expect(r.code).not.toBe(0);
        expect(r.code).not.toBe(70);
        expect((json.length ? r.stdout : r.stderr).trim()).not.toBe('');
      }
    }
  });
});

describe('issue 16: settings that would become kubectl flags or crontab lines', () => {
  const quietEnv = (extra: NodeJS.ProcessEnv = {}) => ({
    HOME: dir,
    XSOAR_CERT_STATE_DIR: f('state16'),
    XSOAR_CERT_NAMESPACE: '',
    XSOAR_CERT_SECRET: '',
    KUBECONFIG: f('no-kubeconfig'),
    ...extra,
  });

  test('finding 8: a secret named "--server=http://127.0.0.1:P" in the settings file: exit 3 naming the file, nothing reaches P', async () => {
    const { createServer } = await import('node:net');
    let hits = 0;
    const server = createServer((s) => {
      hits++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    writeFileSync(
      f('server.json'),
      JSON.stringify({ namespace: 'xsoar', secret: `--server=http://127.0.0.1:${port}` }),
    );
    try {
      for (const cmd of [['status'], ['rollback', '--yes'], ['renew', '--self-signed', '--force']]) {
        const r = await runCli([...cmd, '--config', f('server.json')], { env: quietEnv() });
        expectOneLine(
          r,
          3,
          new RegExp(`server\\.json: "--server=http://127\\.0\\.0\\.1:${port}" is not a valid secret name`),
        );
      }
      // The same name as a flag is a usage error naming the flag; a tenants file names its line.
      expectOneLine(
        await runCli(['status', '--secret', `--server=http://127.0.0.1:${port}`], { env: quietEnv() }),
        2,
        /^xsoar-cert: --secret: /,
      );
      writeFileSync(f('tenants16.txt'), `tenant-1\ntenant-2/--kubeconfig=${f('k')}\n`);
      expectOneLine(
        await runCli(['status', '--tenants-file', f('tenants16.txt')], { env: quietEnv() }),
        3,
        /tenants16\.txt:2: /,
      );
    } finally {
      server.close();
    }
    expect(hits).toBe(0);
  });

  test('finding 10: renew --print-cron never prints a second crontab entry; --print-systemd escapes %', async () => {
    const owned = 'xsoar.example.com:443\n* * * * * root touch /tmp/owned #';
    writeFileSync(f('cron.json'), JSON.stringify({ namespace: 'xsoar', endpoint: owned }));
    const r = await runCli(['renew', '--self-signed', '--print-cron', '--config', f('cron.json')], { env: quietEnv() });
    expectOneLine(r, 3, /cron\.json: the setting "endpoint" holds a control character/);
    expect(r.stdout).toBe('');
    expectOneLine(
      await runCli(['renew', '--self-signed', '--print-cron', '--host', 'a\n* * * * * root id'], { env: quietEnv() }),
      2,
      /^xsoar-cert: --host: /,
    );
    expectOneLine(
      await runCli(['renew', '--self-signed', '--print-cron'], { env: quietEnv({ XSOAR_CERT_ENDPOINT: owned }) }),
      2,
      /^xsoar-cert: XSOAR_CERT_ENDPOINT: /,
    );
    const ok = await runCli(['renew', '--self-signed', '--print-cron', '--log-file', f('%h.log'), '--host', "it's"], {
      env: quietEnv(),
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(1);
    expect(ok.stdout).toContain('\\%h.log');
    const sd = await runCli(
      ['renew', '--self-signed', '--print-systemd', '--log-file', f('%h.log'), '--dns-hook', 'x'],
      { env: quietEnv() },
    );
    expect(sd.code).toBe(0);
    expect(sd.stdout).toContain(`append:${f('%%h.log')}`);
  });
});

describe('finding 11: escape sequences from files never reach the terminal raw', () => {
  const NAME = 'x\x1b]0;TITLE\x07\x1b[2Jy.pem';
  const SHOWN = 'x\\e]0;TITLE\\a\\e[2Jy.pem';
  const RAW = /[\x00-\x09\x0b-\x1a\x1c-\x1f\x7f-\x9f]|\x1b(?!\[[0-9;]*m)/;

  test('finding 11: inspect and its errors print such a file name escaped; colours still work', async () => {
    writeFileSync(f(NAME), certPem);
    const r = await runCli(['inspect', f(NAME)], { env: { FORCE_COLOR: '1', NO_COLOR: '' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(SHOWN);
    expect(r.stdout).toMatch(/\x1b\[1m/); // chalk's bold is kept
    expect(r.stdout).not.toMatch(RAW);
    const missing = await runCli(['inspect', f('missing-' + NAME)]);
    expectOneLine(missing, 3, new RegExp(`missing-${SHOWN.replace(/[\\[\]]/g, '\\$&')}`));
    expect(missing.stderr).not.toMatch(RAW);
  });

  test('finding 11: renew --from names such a drop-folder file escaped', async () => {
    // The installed secret: a leaf in its last day.
    const leaf = await issueCertificate({
      subject: 'hostile.example',
      dnsNames: ['hostile.example'],
      key: { type: 'ecdsa' },
      days: 1,
    });
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'xsoar-tls', namespace: 'xsoar', resourceVersion: '1' },
      data: {
        'tls.crt': Buffer.from(leaf.certPem).toString('base64'),
        'tls.key': Buffer.from(leaf.keyPem).toString('base64'),
      },
    };
    const proxy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'xsoar-proxy', namespace: 'xsoar' },
      spec: { template: { spec: { volumes: [{ name: 'tls', secret: { secretName: 'xsoar-tls' } }] } } },
    };
    writeFileSync(f('secret.json'), JSON.stringify(secret));
    writeFileSync(f('proxy.json'), JSON.stringify(proxy));
    // A kubectl stand-in whose `proxy --unix-socket` answers the installed secret, its deployment,
    // and a permissions review that allows everything; empty lists otherwise.
    writeFileSync(
      f('fake-kubectl'),
      `#!${process.execPath}\n` +
        `const fs = require('fs'), http = require('http');\n` +
        `const sock = process.argv.find((a) => a.startsWith('--unix-socket=')).slice(14);\n` +
        `const read = (n) => JSON.parse(fs.readFileSync('${f('')}/' + n, 'utf8'));\n` +
        `http.createServer((req, res) => {\n` +
        `  res.setHeader('content-type', 'application/json');\n` +
        `  const p = req.url.split('?')[0];\n` +
        `  if (p.endsWith('/secrets/xsoar-tls')) return res.end(JSON.stringify(read('secret.json')));\n` +
        `  if (p.endsWith('/secrets')) return res.end(JSON.stringify({ items: [read('secret.json')] }));\n` +
        `  if (p.endsWith('/deployments')) return res.end(JSON.stringify({ items: [read('proxy.json')] }));\n` +
        `  if (p.endsWith('rulesreviews')) return res.end(JSON.stringify({ status: { resourceRules: [` +
        `{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] } }));\n` +
        `  res.end(JSON.stringify({ items: [] }));\n` +
        `}).listen(sock, () => console.log('Starting to serve on ' + sock));\n`,
      { mode: 0o755 },
    );
    const drop = f('drop');
    execFileSync('mkdir', ['-p', drop]);
    writeFileSync(path.join(drop, NAME), 'not a certificate\n');
    const r = await runCli(['renew', '--from', drop, '-n', 'xsoar', '--no-confirm', '--force'], {
      env: {
        XSOAR_CERT_KUBECTL: f('fake-kubectl'),
        XSOAR_CERT_STATE_DIR: f('state11'),
        XSOAR_CERT_CONFIG: f('none.json'),
        XSOAR_CERT_NAMESPACE: '',
        XSOAR_CERT_SECRET: '',
      },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`skipped ${drop}/${SHOWN}`);
    expect(r.stderr + r.stdout).not.toMatch(RAW);
  });
});
