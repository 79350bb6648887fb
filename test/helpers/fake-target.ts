// A TargetKind that changes nothing but remembers every call the engine made (which step, which
// tenants, what marker was on disk at that moment), and fails any step for chosen tenants on demand.
// With RecordingReporter it lets the engine (src/ops/txn/engine.ts) be tested without a cluster.
import { createHash } from 'node:crypto';
import type { Reporter } from '../../src/ops/reporter.js';
import { readMarker } from '../../src/ops/state.js';
import type {
  Change,
  Fail,
  Found,
  NewContent,
  PendingContent,
  RunMarks,
  TargetKind,
  TargetSession,
  TenantRef,
} from '../../src/ops/txn/types.js';

export type Step =
  | 'open'
  | 'check'
  | 'plan'
  | 'recheck'
  | 'backup'
  | 'apply'
  | 'restart'
  | 'release'
  | 'restore'
  | 'prune'
  | 'signal'
  | 'obtain';

/** The steps that get a batch of tenants and a `fail` callback. */
type BatchStep = 'backup' | 'apply' | 'restart' | 'release';

export interface Call {
  step: Step;
  /** The namespaces of the tenants the call was given. */
  tenants: string[];
  /** Write steps and restore: the marker step on disk for each tenant when the call was made. */
  markers?: Record<string, string | undefined>;
  /** The reporter the call was given (restore: the main one for one tenant, a quiet copy for a fleet). */
  out?: Reporter;
  /** signal: on (an AbortSignal) or off (undefined). */
  signal?: AbortSignal;
  marks?: RunMarks;
  opts?: { allowNameChange?: boolean; confirmEndpoint: boolean };
  timeoutS?: number;
}

interface Rule {
  step: Step;
  tenant: string;
  err: unknown;
  how: 'throw' | 'fail';
  notApplied?: boolean;
}

/** A fingerprint in the form the markers require (32 upper-case hex bytes joined by colons), from any text. */
export const fingerprintOf = (text: string): string =>
  createHash('sha256').update(text).digest('hex').toUpperCase().match(/../g)!.join(':');

export const oldFingerprintOf = (namespace: string) => fingerprintOf(`old certificate of ${namespace}`);
export const backupOf = (t: TenantRef) => `${t.secret}-prev-20260101000000-${t.namespace}`;

export const newContent = (label = 'new'): NewContent => ({
  data: { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5' },
  fingerprint: fingerprintOf(label),
  notAfter: '2027-01-01T00:00:00.000Z',
  names: ['xsoar.example.test'],
  label,
});

export class FakeTarget implements TargetKind {
  readonly calls: Call[] = [];
  private readonly rules: Rule[] = [];

  /**
   * The step reports `tenant`'s failure through the engine's callback: open calls refuse(t, err);
   * backup, apply, restart and release call fail(t, err, notApplied).
   */
  failing(step: 'open' | BatchStep, tenant: string, err: unknown, opts: { notApplied?: boolean } = {}): this {
    this.rules.push({ step, tenant, err, how: 'fail', notApplied: opts.notApplied });
    return this;
  }

  /**
   * The step throws `err`: check, plan, recheck, restore and obtain when called for `tenant`; open,
   * backup, apply, restart, release and prune (a whole batch) when `tenant` is among those given.
   */
  throwing(step: Exclude<Step, 'signal'>, tenant: string, err: unknown): this {
    this.rules.push({ step, tenant, err, how: 'throw' });
    return this;
  }

  /** Every call as "step tenant tenant…" ("signal on" / "signal off"), in order. */
  trace(): string[] {
    return this.calls.map((c) =>
      c.step === 'signal' ? `signal ${c.signal ? 'on' : 'off'}` : [c.step, ...c.tenants].join(' '),
    );
  }

  /** Just the step names, in order. */
  steps(): Step[] {
    return this.calls.map((c) => c.step);
  }

  /** Every call of `step`. */
  callsOf(step: Step): Call[] {
    return this.calls.filter((c) => c.step === step);
  }

  /** Every tenant any call of `step` was given, in order. */
  tenantsOf(step: Step): string[] {
    return this.callsOf(step).flatMap((c) => c.tenants);
  }

  /** The marks (the run's lock and audit anchor) the engine planned with. */
  marks(): RunMarks {
    const m = this.callsOf('plan')[0]?.marks;
    if (!m) throw new Error('plan was never called');
    return m;
  }

  /** A certificate still to be obtained, for `namespace`: obtain() is recorded and can be made to throw. */
  pending(namespace: string, o: { costly: boolean; describe?: string }): PendingContent {
    return {
      describe: o.describe ?? `a certificate from the fake CA for ${namespace}`,
      costly: o.costly,
      obtain: async () => {
        this.record({ step: 'obtain', tenants: [namespace] });
        this.throwIf('obtain', [namespace]);
        return newContent(`obtained for ${namespace}`);
      },
    };
  }

  async open(ts: TenantRef[], out: Reporter, refuse: (t: TenantRef, err: unknown) => void): Promise<TargetSession> {
    this.record({ step: 'open', tenants: names(ts), out });
    this.throwIf('open', names(ts));
    for (const t of ts) {
      const r = this.rule('open', 'fail', t.namespace);
      if (r) refuse(t, r.err);
    }
    return this.session();
  }

  private session(): TargetSession {
    return {
      where: (t) => `namespace "${t.namespace}"`,
      check: (t): Found => {
        this.record({ step: 'check', tenants: [t.namespace] });
        this.throwIf('check', [t.namespace]);
        return {
          oldFingerprint: oldFingerprintOf(t.namespace),
          line: `fake secret ${t.namespace}/${t.secret} found`,
          restarts: [`proxy-${t.namespace}`],
        };
      },
      plan: (t, content, marks, opts): Change => {
        this.record({ step: 'plan', tenants: [t.namespace], marks, opts });
        this.throwIf('plan', [t.namespace]);
        return {
          oldFingerprint: oldFingerprintOf(t.namespace),
          newFingerprint: content.fingerprint,
          backup: backupOf(t),
          restarts: [`proxy-${t.namespace}`],
          warnings: [],
          steps: [`replace ${t.namespace}/${t.secret} with ${content.label}`],
          detail: { fakePlanFor: t.namespace, label: content.label },
        };
      },
      recheck: async (t) => {
        this.record({ step: 'recheck', tenants: [t.namespace] });
        this.throwIf('recheck', [t.namespace]);
      },
      signal: (s) => {
        this.record({ step: 'signal', tenants: [], signal: s });
      },
      backup: (ts, out, fail) => this.batch('backup', ts, out, fail),
      apply: (ts, out, fail) => this.batch('apply', ts, out, fail),
      restart: (ts, timeoutS, out, fail) => this.batch('restart', ts, out, fail, timeoutS),
      release: (ts, out, fail) => this.batch('release', ts, out, fail),
      restore: async (t, _opts, out) => {
        this.record({ step: 'restore', tenants: [t.namespace], out, markers: markersOf([t]) });
        this.throwIf('restore', [t.namespace]);
      },
      prune: async (ts, out) => {
        this.record({ step: 'prune', tenants: names(ts), out });
        this.throwIf('prune', names(ts));
      },
    };
  }

  private async batch(step: BatchStep, ts: TenantRef[], out: Reporter, fail: Fail, timeoutS?: number): Promise<void> {
    this.record({ step, tenants: names(ts), out, markers: markersOf(ts), timeoutS });
    this.throwIf(step, names(ts));
    for (const t of ts) {
      const r = this.rule(step, 'fail', t.namespace);
      if (r) fail(t, r.err, r.notApplied);
    }
  }

  private record(c: Call): void {
    this.calls.push(c);
  }

  private rule(step: Step, how: Rule['how'], tenant: string): Rule | undefined {
    return this.rules.find((r) => r.step === step && r.how === how && r.tenant === tenant);
  }

  private throwIf(step: Step, tenants: string[]): void {
    const r = tenants.map((t) => this.rule(step, 'throw', t)).find(Boolean);
    if (r) throw r.err;
  }
}

const names = (ts: TenantRef[]) => ts.map((t) => t.namespace);

function markersOf(ts: TenantRef[]): Record<string, string | undefined> {
  return Object.fromEntries(ts.map((t) => [t.namespace, readMarker(t.namespace, t.secret)?.step]));
}

export interface Line {
  kind: 'step' | 'ok' | 'warn' | 'fail' | 'info' | 'wait';
  text: string;
  /** Written through a quietCopy(). */
  quiet: boolean;
}

/** A Reporter that keeps every line; its quietCopy() writes to the same list, marked quiet. */
export class RecordingReporter implements Reporter {
  constructor(
    readonly lines: Line[] = [],
    readonly quiet = false,
  ) {}
  step(text: string): void {
    this.add('step', text);
  }
  ok(text: string): void {
    this.add('ok', text);
  }
  warn(text: string): void {
    this.add('warn', text);
  }
  fail(text: string): void {
    this.add('fail', text);
  }
  info(text: string): void {
    this.add('info', text);
  }
  wait<T>(label: string, work: Promise<T>): Promise<T> {
    this.add('wait', label);
    return work;
  }
  quietCopy(): RecordingReporter {
    return new RecordingReporter(this.lines, true);
  }
  /** The texts of the lines of one kind. */
  texts(kind: Line['kind']): string[] {
    return this.lines.filter((l) => l.kind === kind).map((l) => l.text);
  }
  private add(kind: Line['kind'], text: string): void {
    this.lines.push({ kind, text, quiet: this.quiet });
  }
}
