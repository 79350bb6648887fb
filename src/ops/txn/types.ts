// What the transaction engine (engine.ts) and a target plug-in say to each other. A target is where
// a certificate goes (a Kubernetes TLS secret today; PEM files and a service next): it reads what is
// installed, plans a change, keeps the previous version, writes under a fence, restarts what serves
// it and restores on failure. The engine orders those steps, confirms the endpoint, keeps the marker,
// the local lock and the audit record, and knows no implementation (STYLE habit: cert-manager's
// issuer interface).
import type { Reporter } from '../reporter.js';
import type { Target as TenantRef } from '../fleet.js';

export type { TenantRef };

/** A new certificate and key as a target takes them. */
export interface NewContent {
  /** base64 values keyed tls.crt, tls.key and (optionally) ca.crt: the Kubernetes TLS secret layout. */
  data: Record<string, string>;
  fingerprint: string;
  notAfter: string;
  names: string[];
  /** A short description for messages ("the certificate in tenant.pem", "backup xsoar-tls-prev-…"). */
  label: string;
}

/**
 * A certificate still to be obtained (renew's source): after the target's checks and the endpoint's,
 * so a tenant that cannot take a certificate is never ordered for; a costly one (an ACME order) is
 * never obtained by a dry run.
 */
export interface PendingContent {
  describe: string;
  costly: boolean;
  obtain(): Promise<NewContent>;
}

/** What the target found for one tenant, before any new certificate is known. */
export interface Found {
  oldFingerprint?: string;
  /** One line ("secret ns/name found (resourceVersion 6); proxy: deployment/x"). */
  line: string;
  /** What the restart step would restart. */
  restarts: string[];
}

/** One planned change, as the engine sees it. */
export interface Change {
  oldFingerprint?: string;
  newFingerprint: string;
  /** The previous version kept: the name the next run and `rollback --to` find it by. */
  backup: string;
  /** What the restart step restarts (deployment names): the marker keeps them for the next run. */
  restarts: string[];
  warnings: string[];
  /** The plan in words, for the confirmation prompt. */
  steps: string[];
  /** What --dry-run and --json print: the target's own plan, key material redacted. */
  detail: unknown;
}

/** Stamps of this run that a change carries: the lock it takes and the audit log's head (anchor). */
export interface RunMarks {
  lock: string;
  anchor: string;
}

/** How a step reports one tenant's failure; `notApplied`: its write certainly did not land. */
export type Fail = (t: TenantRef, err: unknown, notApplied?: boolean) => void;

/** One run's view of a target: it has read every tenant, and runs each step for the tenants given. */
export interface TargetSession {
  /** Where a tenant lives, for messages. */
  where(t: TenantRef): string;
  /** Checks that need only what was read (kind, lock, what serves it); throws to refuse. */
  check(t: TenantRef): Found;
  /** The change that puts `content` in place (after check); throws to refuse (e.g. names dropped). */
  plan(
    t: TenantRef,
    content: NewContent,
    marks: RunMarks,
    opts: { allowNameChange?: boolean; confirmEndpoint: boolean },
  ): Change;
  /** The endpoint served another certificate: a BusyError when another run changed the tenant since it was read. */
  recheck(t: TenantRef): Promise<void>;
  signal(s: AbortSignal | undefined): void;
  backup(ts: TenantRef[], out: Reporter, fail: Fail): Promise<void>;
  apply(ts: TenantRef[], out: Reporter, fail: Fail): Promise<void>;
  restart(ts: TenantRef[], timeoutS: number, out: Reporter, fail: Fail, check: () => void): Promise<void>;
  /** Release the run's lock; the answer is the re-read: a tenant that does not hold what was written fails. */
  release(ts: TenantRef[], out: Reporter, fail: Fail): Promise<void>;
  /** Put the previous version back, restart, confirm and release; throws ForeignChangeError when not ours to undo. */
  restore(
    t: TenantRef,
    opts: { endpoint?: string; servername?: string; timeoutS: number },
    out: Reporter,
  ): Promise<void>;
  prune(ts: TenantRef[], out: Reporter): Promise<void>;
  /** Where the kept version is and the command that restores it, when the automatic rollback failed. */
  rollbackHint?(t: TenantRef, backup: string): string;
}

/** A kind of target: opening a session reads every tenant (nothing changes) and refuses those it cannot change. */
export interface TargetKind {
  open(ts: TenantRef[], out: Reporter, refuse: (t: TenantRef, err: unknown) => void): Promise<TargetSession>;
}

export interface TransactionResult {
  namespace: string;
  secret: string;
  result: 'installed' | 'dry-run' | 'cancelled';
  oldFingerprint?: string;
  /** Undefined only for a dry run that did not obtain a costly certificate (PendingContent). */
  newFingerprint?: string;
  backup?: string;
  deployments: string[];
  confirmed: boolean;
  /** The target's plan (Change.detail). */
  plan: unknown;
}
