// The transaction engine (src/ops/txn/engine.ts) on a fake target (test/helpers/fake-target.ts):
// for one tenant and for three (tenant-b failing, tenant-a and tenant-c going on), which steps the
// engine calls for which tenants when each step fails, what each outcome says, and what it leaves
// in the state dir (markers, local locks, audit records). No cluster, no network: no tenant has an
// endpoint, so nothing is checked or confirmed over TLS.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { readAudit, type AuditRecord } from '../../../src/audit/log.js';
import {
  BusyError,
  CaError,
  CheckFailedError,
  EXIT,
  ForeignChangeError,
  KubectlError,
  NameChangeError,
  TransactionError,
} from '../../../src/errors.js';
import { readMarker } from '../../../src/ops/state.js';
import { exitOf, runEngine, type EngineOptions, type EngineTarget, type Outcome } from '../../../src/ops/txn/engine.js';
import type { NewContent, PendingContent } from '../../../src/ops/txn/types.js';
import {
  backupOf,
  FakeTarget,
  fingerprintOf,
  newContent,
  oldFingerprintOf,
  RecordingReporter,
} from '../../helpers/fake-target.js';

const SECRET = 'xsoar-tls';
const A = 'tenant-a';
const B = 'tenant-b';
const C = 'tenant-c';
const NEW = newContent();

let root: string;
let state: string;
let out: RecordingReporter;
const saved = process.env.XSOAR_CERT_STATE_DIR;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-engine-'));
  state = path.join(root, 'state');
  process.env.XSOAR_CERT_STATE_DIR = state;
  out = new RecordingReporter();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));
afterAll(() => {
  if (saved === undefined) delete process.env.XSOAR_CERT_STATE_DIR;
  else process.env.XSOAR_CERT_STATE_DIR = saved;
});

// ------------------------------------------------------------------ helpers

const tenant = (namespace: string, content: NewContent | PendingContent = NEW): EngineTarget => ({
  namespace,
  secret: SECRET,
  content,
});
const one = () => [tenant(A)];
const three = () => [A, B, C].map((ns) => tenant(ns));
const install = (fake: FakeTarget, targets: EngineTarget[], more: Partial<EngineOptions> = {}) =>
  runEngine({ op: 'install', targets, ...more }, fake, out);

const outcomeOf = (outcomes: Outcome[], ns: string) => outcomes.find((o) => o.target.namespace === ns)!;
const results = (outcomes: Outcome[]) => outcomes.map((o) => o.value?.result ?? `error ${exitOf(o.error)}`);

/** Every file in the state dir, relative and sorted ([] when the dir was never created). */
function stateFiles(): string[] {
  if (!existsSync(state)) return [];
  return (readdirSync(state, { recursive: true }) as string[])
    .filter((f) => statSync(path.join(state, f)).isFile())
    .sort();
}
const markerStep = (ns: string) => readMarker(ns, SECRET)?.step;
const markerFileOf = (ns: string) => `markers/${ns}__${SECRET}.json`;
const records = (): AuditRecord[] => readAudit().records;
const auditOf = (ns: string) => records().filter((r) => r.namespace === ns);
/** The run id, as the engine put it in the lock it handed to plan. */
const runIdOf = (fake: FakeTarget) => (JSON.parse(fake.marks().lock) as { run: string }).run;

const clusterError = (message: string) => new KubectlError(message, { verb: 'apply', args: [] });

const WRITE_STEPS = ['backup', 'apply', 'restart', 'release'] as const;
type WriteStep = (typeof WRITE_STEPS)[number];
/** The write steps up to and including `last`, each given `tenants`. */
const writesUpTo = (last: WriteStep, tenants: string) =>
  WRITE_STEPS.slice(0, WRITE_STEPS.indexOf(last) + 1).map((s) => `${s} ${tenants}`);
const PREFLIGHT_ONE = [`open ${A}`, `check ${A}`, `plan ${A}`];
const PREFLIGHT_THREE = [
  `open ${A} ${B} ${C}`,
  `check ${A}`,
  `plan ${A}`,
  `check ${B}`,
  `plan ${B}`,
  `check ${C}`,
  `plan ${C}`,
];

/** A tenant refused before any change: its one audit record says why and with which exit code. */
const refusedRecord = (err: BusyError | KubectlError | CaError | NameChangeError) => [
  expect.objectContaining({ result: 'refused', error: err.message, exitCode: err.exitCode }),
];

/** The two tenants that did not fail were installed, recorded and pruned. */
function expectOthersInstalled(fake: FakeTarget, outcomes: Outcome[]): void {
  for (const ns of [A, C]) {
    expect(outcomeOf(outcomes, ns).value?.result).toBe('installed');
    expect(auditOf(ns).map((r) => r.result)).toEqual(['installed']);
    expect(markerStep(ns)).toBeUndefined();
  }
  expect(fake.tenantsOf('prune')).toEqual([A, C]);
}

// ------------------------------------------------------------------ one tenant

describe('one tenant', () => {
  test('success: check → plan → backup → apply → restart → release → prune, no TLS check or confirm', async () => {
    const fake = new FakeTarget();
    const [r] = await install(fake, one());

    expect(fake.trace()).toEqual([
      ...PREFLIGHT_ONE,
      'signal on',
      ...writesUpTo('release', A),
      'signal off',
      `prune ${A}`,
    ]);
    expect(fake.callsOf('plan')[0]!.opts).toEqual({ allowNameChange: undefined, confirmEndpoint: true });
    expect(fake.callsOf('restart')[0]!.timeoutS).toBe(120);
    expect(out.texts('wait')).toEqual([]); // no endpoint: no TLS check before, no confirmation after
    expect(out.texts('ok')).toContain(`installed ${oldFingerprintOf(A)} → new ${NEW.fingerprint}`);
    expect(r).toMatchObject({ ok: true, target: { namespace: A, secret: SECRET } });
    expect(r!.error).toBeUndefined();
    expect(r!.value).toEqual({
      namespace: A,
      secret: SECRET,
      result: 'installed',
      oldFingerprint: oldFingerprintOf(A),
      newFingerprint: NEW.fingerprint,
      backup: backupOf(tenant(A)),
      deployments: [`proxy-${A}`],
      confirmed: false,
      plan: { fakePlanFor: A, label: NEW.label },
    });
  });

  test('success: the marker is on disk before each write and names its step; afterwards only one audit record', async () => {
    const fake = new FakeTarget();
    await install(fake, one());

    expect(fake.callsOf('backup')[0]!.markers).toEqual({ [A]: 'backup' });
    expect(fake.callsOf('apply')[0]!.markers).toEqual({ [A]: 'apply' });
    expect(fake.callsOf('restart')[0]!.markers).toEqual({ [A]: 'restart' });
    // No marker and no local lock left: the audit log is the only file.
    expect(stateFiles()).toEqual(['audit.jsonl']);
    const run = runIdOf(fake);
    expect(run).toMatch(/^[0-9a-f]{12}$/);
    expect((JSON.parse(fake.marks().anchor) as { run: string }).run).toBe(run);
    expect(records()).toEqual([
      expect.objectContaining({
        op: 'install',
        namespace: A,
        secret: SECRET,
        result: 'installed',
        run,
        backup: backupOf(tenant(A)),
        oldFingerprint: oldFingerprintOf(A),
        newFingerprint: NEW.fingerprint,
      }),
    ]);
  });

  test.each([
    ['open', ['open'], new KubectlError('secret "xsoar-tls" not found', { verb: 'get', args: [], reason: 'NotFound' })],
    ['check', ['open', 'check'], new BusyError('secret tenant-a/xsoar-tls is locked by another run')],
    ['plan', ['open', 'check', 'plan'], new NameChangeError('the new certificate drops a.example', ['a.example'])],
  ] as const)('refused at %s: runEngine throws that error, nothing written', async (step, called, err) => {
    const fake = new FakeTarget();
    if (step === 'open') fake.failing('open', A, err);
    else fake.throwing(step, A, err);

    await expect(install(fake, one())).rejects.toBe(err);
    expect(fake.steps()).toEqual(called);
    // No marker, no lock: only the refusal's own audit record.
    expect(stateFiles()).toEqual(['audit.jsonl']);
    expect(records()).toEqual(refusedRecord(err));
  });

  test('refused at open by a throw (the target cannot read at all): runEngine throws it', async () => {
    const err = clusterError('the cluster is unreachable');
    const fake = new FakeTarget().throwing('open', A, err);
    await expect(install(fake, one())).rejects.toBe(err);
    expect(fake.steps()).toEqual(['open']);
    expect(stateFiles()).toEqual([]); // not a refusal of the tenant: nothing on record
  });

  test('failure at backup: nothing applied, no restore, the outcome is the error, marker cleared, audit "failed"', async () => {
    const err = clusterError('secrets is forbidden');
    const fake = new FakeTarget().failing('backup', A, err);
    const [r] = await install(fake, one());

    expect(fake.trace()).toEqual([...PREFLIGHT_ONE, 'signal on', `backup ${A}`, 'signal off', 'prune']);
    expect(r).toMatchObject({ ok: false, error: err });
    expect(exitOf(r!.error)).toBe(EXIT.CLUSTER);
    expect(stateFiles()).toEqual(['audit.jsonl']);
    expect(records()).toEqual([
      expect.objectContaining({ namespace: A, result: 'failed', error: 'secrets is forbidden', run: runIdOf(fake) }),
    ]);
  });

  test.each([
    ['apply', 'apply'],
    ['restart', 'restart'],
    // release has no marker step of its own: the engine names it by the step before (confirm).
    ['release', 'confirm'],
  ] as const)('failure at %s: restored, TransactionError exit 5, audit "rolled-back"', async (step, named) => {
    const fake = new FakeTarget().failing(step, A, clusterError('boom'));
    const [r] = await install(fake, one());

    expect(fake.trace()).toEqual([
      ...PREFLIGHT_ONE,
      'signal on',
      ...writesUpTo(step, A),
      'signal off',
      `restore ${A}`,
      'prune',
    ]);
    const restore = fake.callsOf('restore')[0]!;
    expect(restore.markers).toEqual({ [A]: 'rollback' });
    expect(restore.out).toBe(out); // one tenant: the restore reports in full
    expect(r!.ok).toBe(false);
    expect(r!.error).toBeInstanceOf(TransactionError);
    expect(r!.error).toMatchObject({ rolledBack: true, exitCode: EXIT.ROLLED_BACK });
    expect(r!.error!.message).toContain(`install failed at ${named} (boom); rolled back`);
    expect(out.texts('fail')).toEqual([`install failed at ${named}: boom`]);
    expect(stateFiles()).toEqual(['audit.jsonl']);
    expect(records().map((x) => [x.result, x.error])).toEqual([['rolled-back', 'boom']]);
  });

  test('failure at apply and the restore throws: exit 6, the marker kept at "rollback", audit "rollback-failed"', async () => {
    const fake = new FakeTarget()
      .failing('apply', A, clusterError('boom'))
      .throwing('restore', A, clusterError('connection refused'));
    const [r] = await install(fake, one());

    expect(fake.tenantsOf('restore')).toEqual([A]);
    expect(r!.error).toBeInstanceOf(TransactionError);
    expect(r!.error).toMatchObject({ rolledBack: false, exitCode: EXIT.ROLLBACK_FAILED });
    expect(r!.error!.message).toContain('AND the rollback failed: connection refused');
    expect((r!.error as TransactionError).hint).toContain(`--to ${backupOf(tenant(A))}`);
    expect(markerStep(A)).toBe('rollback');
    expect(stateFiles()).toEqual(['audit.jsonl', markerFileOf(A)]); // the local lock is released all the same
    expect(records().map((x) => [x.result, x.error])).toEqual([
      ['rollback-failed', 'boom; rollback: connection refused'],
    ]);
  });

  test('failure at apply and the restore finds a foreign change: BusyError exit 7, marker cleared, audit "failed"', async () => {
    const fake = new FakeTarget()
      .failing('apply', A, clusterError('boom'))
      .throwing('restore', A, new ForeignChangeError('the secret changed again after this run wrote it'));
    const [r] = await install(fake, one());

    expect(fake.tenantsOf('restore')).toEqual([A]);
    expect(r!.error).toBeInstanceOf(BusyError);
    expect(r!.error).not.toBeInstanceOf(ForeignChangeError); // the engine's own, naming the step
    expect(exitOf(r!.error)).toBe(EXIT.BUSY);
    expect(r!.error!.message).toBe('install failed at apply (boom); the secret changed again after this run wrote it');
    expect(stateFiles()).toEqual(['audit.jsonl']);
    expect(records().map((x) => x.result)).toEqual(['failed']);
  });

  test('a 409 at apply reported with notApplied: no restore, the error kept, audit "failed"', async () => {
    const err = clusterError('Operation cannot be fulfilled: the object has been modified');
    const fake = new FakeTarget().failing('apply', A, err, { notApplied: true });
    const [r] = await install(fake, one());

    expect(fake.steps()).not.toContain('restore');
    expect(fake.steps()).not.toContain('restart');
    expect(r!.error).toBe(err);
    expect(stateFiles()).toEqual(['audit.jsonl']);
    expect(records().map((x) => x.result)).toEqual(['failed']);
  });

  test('a BusyError at apply is taken as not landed (no restore); at restart it is restored', async () => {
    const busy = new BusyError('409 Conflict');
    const atApply = new FakeTarget().failing('apply', A, busy);
    const [r1] = await install(atApply, one());
    expect(atApply.steps()).not.toContain('restore');
    expect(r1!.error).toBe(busy);
    expect(markerStep(A)).toBeUndefined();
    expect(records().map((x) => x.result)).toEqual(['failed']);

    const atRestart = new FakeTarget().failing('restart', A, busy);
    const [r2] = await install(atRestart, one());
    expect(atRestart.tenantsOf('restore')).toEqual([A]);
    expect(exitOf(r2!.error)).toBe(EXIT.ROLLED_BACK);
    expect(records().map((x) => x.result)).toEqual(['failed', 'rolled-back']);
  });

  test('dry run: planned, nothing written, outcome "dry-run"', async () => {
    const fake = new FakeTarget();
    const [r] = await install(fake, one(), { dryRun: true });

    expect(fake.trace()).toEqual(PREFLIGHT_ONE);
    expect(r!.value).toMatchObject({ result: 'dry-run', newFingerprint: NEW.fingerprint, backup: undefined });
    expect(r!.value!.plan).toEqual({ fakePlanFor: A, label: NEW.label });
    expect(stateFiles()).toEqual([]);
  });

  test('confirm returning false: asked with the plan, outcome "cancelled", nothing written', async () => {
    const fake = new FakeTarget();
    const asked: Array<[string, string]> = [];
    const [r] = await install(fake, one(), {
      confirm: async (change, t) => (asked.push([change.backup, t.namespace]), false),
    });

    expect(asked).toEqual([[backupOf(tenant(A)), A]]);
    expect(fake.trace()).toEqual(PREFLIGHT_ONE);
    expect(r).toMatchObject({ ok: true, value: { result: 'cancelled' } });
    expect(stateFiles()).toEqual([]);
  });

  test('confirm returning true: installed', async () => {
    const fake = new FakeTarget();
    const [r] = await install(fake, one(), { confirm: async () => true });
    expect(fake.tenantsOf('release')).toEqual([A]);
    expect(r!.value!.result).toBe('installed');
  });

  describe('a pending certificate (renew)', () => {
    test('obtained after check, then planned and installed', async () => {
      const fake = new FakeTarget();
      const [r] = await install(fake, [tenant(A, fake.pending(A, { costly: true }))]);

      expect(fake.trace().slice(0, 4)).toEqual([`open ${A}`, `check ${A}`, `obtain ${A}`, `plan ${A}`]);
      expect(r!.value).toMatchObject({ result: 'installed', newFingerprint: fingerprintOf(`obtained for ${A}`) });
    });

    test('a costly one in a dry run is never obtained: the outcome says what would be', async () => {
      const fake = new FakeTarget();
      const [r] = await install(fake, [tenant(A, fake.pending(A, { costly: true, describe: 'an ACME order' }))], {
        dryRun: true,
      });

      expect(fake.steps()).toEqual(['open', 'check']);
      expect(r!.value).toEqual({
        namespace: A,
        secret: SECRET,
        result: 'dry-run',
        oldFingerprint: oldFingerprintOf(A),
        deployments: [`proxy-${A}`],
        confirmed: false,
        plan: { wouldObtain: 'an ACME order' },
      });
      expect(stateFiles()).toEqual([]);
    });

    test('a free one in a dry run is obtained and planned', async () => {
      const fake = new FakeTarget();
      const [r] = await install(fake, [tenant(A, fake.pending(A, { costly: false }))], { dryRun: true });
      expect(fake.steps()).toEqual(['open', 'check', 'obtain', 'plan']);
      expect(r!.value!.newFingerprint).toBe(fingerprintOf(`obtained for ${A}`));
    });

    test('refused at check: never obtained', async () => {
      const err = new BusyError('locked');
      const fake = new FakeTarget().throwing('check', A, err);
      await expect(install(fake, [tenant(A, fake.pending(A, { costly: true }))])).rejects.toBe(err);
      expect(fake.steps()).toEqual(['open', 'check']);
    });

    test('an obtain that throws: runEngine throws it, nothing planned or written', async () => {
      const err = new CaError('the CA refused the order');
      const fake = new FakeTarget().throwing('obtain', A, err);
      await expect(install(fake, [tenant(A, fake.pending(A, { costly: true }))])).rejects.toBe(err);
      expect(fake.steps()).toEqual(['open', 'check', 'obtain']);
      expect(stateFiles()).toEqual(['audit.jsonl']);
      expect(records()).toEqual(refusedRecord(err));
    });
  });
});

// ------------------------------------------------------------------ three tenants

describe('three tenants, tenant-b failing', () => {
  test('none failing: every step once for all three, one "installed" record each with the same run id', async () => {
    const fake = new FakeTarget();
    const outcomes = await install(fake, three());

    expect(fake.trace()).toEqual([
      ...PREFLIGHT_THREE,
      'signal on',
      ...writesUpTo('release', `${A} ${B} ${C}`),
      'signal off',
      `prune ${A} ${B} ${C}`,
    ]);
    expect(fake.callsOf('apply')[0]!.markers).toEqual({ [A]: 'apply', [B]: 'apply', [C]: 'apply' });
    expect(outcomes.map((o) => o.value)).toEqual(
      [A, B, C].map((ns) =>
        expect.objectContaining({
          namespace: ns,
          result: 'installed',
          oldFingerprint: oldFingerprintOf(ns),
          newFingerprint: NEW.fingerprint,
          backup: backupOf(tenant(ns)),
        }),
      ),
    );
    expect(out.texts('ok')).toContain('3 of 3 tenants ready; 0 refused before any change');
    expect(stateFiles()).toEqual(['audit.jsonl']);
    const run = runIdOf(fake);
    expect(records().map((r) => [r.namespace, r.result, r.run])).toEqual([
      [A, 'installed', run],
      [B, 'installed', run],
      [C, 'installed', run],
    ]);
  });

  test.each([
    ['open', [`open ${A} ${B} ${C}`, `check ${A}`, `plan ${A}`, `check ${C}`, `plan ${C}`]],
    ['check', [...PREFLIGHT_THREE.slice(0, 3), `check ${B}`, `check ${C}`, `plan ${C}`]],
    ['plan', PREFLIGHT_THREE],
  ] as const)(
    'refused at %s: its outcome has the error, the other two go on, nothing written for it',
    async (step, pre) => {
      const err = new BusyError(`refused at ${step}`);
      const fake = new FakeTarget();
      if (step === 'open') fake.failing('open', B, err);
      else fake.throwing(step, B, err);
      const outcomes = await install(fake, three());

      expect(fake.trace()).toEqual([
        ...pre,
        'signal on',
        ...writesUpTo('release', `${A} ${C}`),
        'signal off',
        `prune ${A} ${C}`,
      ]);
      expect(outcomeOf(outcomes, B)).toMatchObject({ ok: false, error: err });
      expect(out.texts('ok')).toContain('2 of 3 tenants ready; 1 refused before any change');
      expectOthersInstalled(fake, outcomes);
      expect(auditOf(B)).toEqual(refusedRecord(err));
      expect(stateFiles()).toEqual(['audit.jsonl']);
    },
  );

  test('a refusal that is not an XsoarCertError becomes a CheckFailedError (exit 1)', async () => {
    const fake = new FakeTarget().throwing('check', B, new Error('unexpected shape'));
    const outcomes = await install(fake, three());
    const b = outcomeOf(outcomes, B);
    expect(b.error).toBeInstanceOf(CheckFailedError);
    expect(b.error!.message).toBe('unexpected shape');
    expect(exitOf(b.error)).toBe(EXIT.CHECK_FAILED);
    expectOthersInstalled(fake, outcomes);
  });

  // Engine bug (uncommitted recordRefusal): the record takes exitOf(raw error) = 70 before refuse
  // wraps the error in a CheckFailedError, so the log says 70 while the tenant ends with 1.
  test('the "refused" record of a non-XsoarCertError names the exit code the tenant ends with', async () => {
    const fake = new FakeTarget().throwing('check', B, new Error('unexpected shape'));
    const outcomes = await install(fake, three());
    expect(auditOf(B).map((r) => r.exitCode)).toEqual([exitOf(outcomeOf(outcomes, B).error)]);
  });

  test('failure at backup: no restore, its outcome is the error, marker cleared, audit "failed"', async () => {
    const err = clusterError('secrets is forbidden');
    const fake = new FakeTarget().failing('backup', B, err);
    const outcomes = await install(fake, three());

    expect(fake.tenantsOf('backup')).toEqual([A, B, C]);
    expect(fake.tenantsOf('apply')).toEqual([A, C]);
    expect(fake.steps()).not.toContain('restore');
    expect(outcomeOf(outcomes, B)).toMatchObject({ ok: false, error: err });
    expect(auditOf(B).map((r) => [r.result, r.error])).toEqual([['failed', 'secrets is forbidden']]);
    expect(markerStep(B)).toBeUndefined();
    expectOthersInstalled(fake, outcomes);
    expect(stateFiles()).toEqual(['audit.jsonl']);
  });

  test.each(['apply', 'restart', 'release'] as const)(
    'failure at %s: only tenant-b is restored (with a quiet reporter), exit 5, audit "rolled-back"',
    async (step) => {
      const fake = new FakeTarget().failing(step, B, clusterError('boom'));
      const outcomes = await install(fake, three());

      // The steps after the failing one go on without tenant-b.
      for (const s of WRITE_STEPS) {
        const after = WRITE_STEPS.indexOf(s) > WRITE_STEPS.indexOf(step);
        expect([s, fake.tenantsOf(s)]).toEqual([s, after ? [A, C] : [A, B, C]]);
      }
      expect(fake.tenantsOf('restore')).toEqual([B]);
      const restore = fake.callsOf('restore')[0]!;
      expect(restore.markers).toEqual({ [B]: 'rollback' });
      expect((restore.out as RecordingReporter).quiet).toBe(true);
      expect(out.texts('step')).toContain('Rollback: 1 tenants');
      const b = outcomeOf(outcomes, B);
      expect(b.error).toBeInstanceOf(TransactionError);
      expect(b.error).toMatchObject({ rolledBack: true, exitCode: EXIT.ROLLED_BACK });
      expect(auditOf(B).map((r) => [r.result, r.error])).toEqual([['rolled-back', 'boom']]);
      expect(markerStep(B)).toBeUndefined();
      expectOthersInstalled(fake, outcomes);
      expect(stateFiles()).toEqual(['audit.jsonl']);
    },
  );

  test('failure at restart and the restore throws: exit 6, its marker kept, audit "rollback-failed"', async () => {
    const fake = new FakeTarget()
      .failing('restart', B, clusterError('rollout timed out'))
      .throwing('restore', B, clusterError('connection refused'));
    const outcomes = await install(fake, three());

    expect(fake.tenantsOf('restore')).toEqual([B]);
    const b = outcomeOf(outcomes, B);
    expect(b.error).toBeInstanceOf(TransactionError);
    expect(b.error).toMatchObject({ rolledBack: false, exitCode: EXIT.ROLLBACK_FAILED });
    expect(markerStep(B)).toBe('rollback');
    expect(auditOf(B).map((r) => r.result)).toEqual(['rollback-failed']);
    expectOthersInstalled(fake, outcomes);
    expect(stateFiles()).toEqual(['audit.jsonl', markerFileOf(B)]);
  });

  test('failure at release and the restore finds a foreign change: BusyError exit 7, marker cleared', async () => {
    const fake = new FakeTarget()
      .failing('release', B, clusterError('the re-read shows another certificate'))
      .throwing('restore', B, new ForeignChangeError('the secret changed again after this run wrote it'));
    const outcomes = await install(fake, three());

    const b = outcomeOf(outcomes, B);
    expect(b.error).toBeInstanceOf(BusyError);
    expect(b.error).not.toBeInstanceOf(ForeignChangeError);
    expect(exitOf(b.error)).toBe(EXIT.BUSY);
    expect(markerStep(B)).toBeUndefined();
    expect(auditOf(B).map((r) => r.result)).toEqual(['failed']);
    expectOthersInstalled(fake, outcomes);
  });

  test('a 409 at apply reported with notApplied: no restore, the error kept, audit "failed"', async () => {
    const err = clusterError('Operation cannot be fulfilled: the object has been modified');
    const fake = new FakeTarget().failing('apply', B, err, { notApplied: true });
    const outcomes = await install(fake, three());

    expect(fake.steps()).not.toContain('restore');
    expect(fake.tenantsOf('restart')).toEqual([A, C]);
    expect(outcomeOf(outcomes, B)).toMatchObject({ ok: false, error: err });
    expect(auditOf(B).map((r) => r.result)).toEqual(['failed']);
    expectOthersInstalled(fake, outcomes);
  });

  test('a whole step that throws (the cluster gone mid-way) fails every tenant; each is restored', async () => {
    const fake = new FakeTarget().throwing('apply', B, clusterError('the connection to the server was refused'));
    const outcomes = await install(fake, three());

    expect(fake.steps()).not.toContain('restart');
    expect(fake.tenantsOf('restore')).toEqual([A, B, C]);
    expect(results(outcomes)).toEqual([
      `error ${EXIT.ROLLED_BACK}`,
      `error ${EXIT.ROLLED_BACK}`,
      `error ${EXIT.ROLLED_BACK}`,
    ]);
    expect(records().map((r) => r.result)).toEqual(['rolled-back', 'rolled-back', 'rolled-back']);
    expect(fake.tenantsOf('prune')).toEqual([]);
  });

  test('a local lock held by another live process: tenant-b busy (exit 7), its lock untouched, the others go on', async () => {
    const lockFile = path.join(state, 'locks', `${B}__${SECRET}.lock`);
    mkdirSync(path.dirname(lockFile), { recursive: true, mode: 0o700 });
    const held = JSON.stringify({ pid: 1, host: hostname(), since: new Date().toISOString(), op: 'renew' });
    writeFileSync(lockFile, held, { mode: 0o600 });
    const fake = new FakeTarget();
    const outcomes = await install(fake, three());

    expect(fake.tenantsOf('backup')).toEqual([A, C]);
    const b = outcomeOf(outcomes, B);
    expect(b.error).toBeInstanceOf(BusyError);
    expect(b.error!.message).toContain(`holds the lock for ${B}/${SECRET}`);
    expect(readFileSync(lockFile, 'utf8')).toBe(held);
    expect(auditOf(B)).toEqual([]);
    expectOthersInstalled(fake, outcomes);
  });

  test('dry run with tenant-b refused at check: the other two "dry-run", nothing written', async () => {
    const err = new BusyError('locked');
    const fake = new FakeTarget().throwing('check', B, err);
    const outcomes = await install(fake, three(), { dryRun: true });

    expect(fake.trace()).toEqual([...PREFLIGHT_THREE.slice(0, 3), `check ${B}`, `check ${C}`, `plan ${C}`]);
    expect(results(outcomes)).toEqual(['dry-run', `error ${EXIT.BUSY}`, 'dry-run']);
    expect(outcomeOf(outcomes, B).error).toBe(err);
    expect(stateFiles()).toEqual([]);
  });

  describe('pending certificates (renew)', () => {
    const pendingThree = (fake: FakeTarget, costly = true) =>
      [A, B, C].map((ns) => tenant(ns, fake.pending(ns, { costly })));

    test.each(['open', 'check'] as const)('tenant-b refused at %s: never obtained for it', async (step) => {
      const err = new BusyError(`refused at ${step}`);
      const fake = new FakeTarget();
      if (step === 'open') fake.failing('open', B, err);
      else fake.throwing('check', B, err);
      const outcomes = await install(fake, pendingThree(fake));

      expect(fake.tenantsOf('obtain')).toEqual([A, C]);
      expect(fake.tenantsOf('plan')).toEqual([A, C]);
      expect(outcomeOf(outcomes, B).error).toBe(err);
      expectOthersInstalled(fake, outcomes);
      expect(outcomeOf(outcomes, C).value!.newFingerprint).toBe(fingerprintOf(`obtained for ${C}`));
    });

    test('an obtain that throws refuses just tenant-b: its error kept (exit 9), nothing planned or written for it', async () => {
      const err = new CaError('the CA refused the order');
      const fake = new FakeTarget().throwing('obtain', B, err);
      const outcomes = await install(fake, pendingThree(fake));

      expect(fake.tenantsOf('obtain')).toEqual([A, B, C]);
      expect(fake.tenantsOf('plan')).toEqual([A, C]);
      expect(fake.tenantsOf('backup')).toEqual([A, C]);
      expect(outcomeOf(outcomes, B).error).toBe(err);
      expect(exitOf(outcomeOf(outcomes, B).error)).toBe(EXIT.CA);
      expect(auditOf(B)).toEqual(refusedRecord(err));
      expectOthersInstalled(fake, outcomes);
    });

    test('costly, in a dry run: obtained for none; each outcome says what would be obtained', async () => {
      const fake = new FakeTarget();
      const outcomes = await install(fake, pendingThree(fake), { dryRun: true });

      expect(fake.steps()).toEqual(['open', 'check', 'check', 'check']);
      expect(outcomes.map((o) => [o.value?.result, o.value?.newFingerprint, o.value?.plan])).toEqual(
        [A, B, C].map((ns) => ['dry-run', undefined, { wouldObtain: `a certificate from the fake CA for ${ns}` }]),
      );
      expect(stateFiles()).toEqual([]);
    });
  });
});
