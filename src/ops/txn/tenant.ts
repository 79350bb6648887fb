// The engine's vocabulary: what a caller hands it (targets, options), what it answers (outcomes),
// and its own record of each tenant and of the run, shared by engine.ts and finish.ts.
import { EXIT, XsoarCertError } from '../../errors.js';
import type { Reporter } from '../reporter.js';
import type { Lock, Marker } from '../state.js';
import type {
  Change,
  Found,
  NewContent,
  PendingContent,
  TargetSession,
  TenantRef,
  TransactionResult,
} from './types.js';

export interface EngineTarget extends TenantRef {
  /** The new certificate, or how to obtain it once the tenant passed every check (renew's source). */
  content: NewContent | PendingContent;
}

export const isPending = (c: NewContent | PendingContent): c is PendingContent => 'obtain' in c;

export interface EngineOptions {
  /** Policy lints accepted for the new certificate (--accept): kept in the audit record. */
  accepted?: string[];
  op: 'install' | 'rollback' | 'renew';
  targets: EngineTarget[];
  servername?: string;
  context?: string;
  allowNameChange?: boolean;
  /** --no-confirm: endpoints are neither checked before nor confirmed after. */
  noConfirm?: boolean;
  dryRun?: boolean;
  timeoutS?: number;
  parallel?: number;
  /** One tenant: asked once its plan is known, before anything changes; false cancels. */
  confirm?: (change: Change, t: TenantRef) => Promise<boolean>;
}

export interface Outcome {
  target: TenantRef;
  ok: boolean;
  error?: XsoarCertError | Error;
  value?: TransactionResult;
  ms: number;
}

/** The engine's own record of one tenant in this run. */
export interface Tenant {
  readonly t: EngineTarget;
  readonly started: number;
  found?: Found;
  change?: Change;
  marker?: Marker;
  localLock?: Lock;
  /** The target was (or may have been) written: a failure from here on means a restore. */
  applied: boolean;
  step: Marker['step'];
  error?: Error;
  confirmed: boolean;
  cancelled?: boolean;
}

export interface Run {
  o: EngineOptions;
  tenants: Tenant[];
  target: TargetSession;
  out: Reporter;
  lock: string;
  runId: string;
  solo: boolean;
}

/** The exit code of an outcome's error (70 for a bug). */
export const exitOf = (e: Error | undefined): number => (e instanceof XsoarCertError ? e.exitCode : EXIT.INTERNAL);
