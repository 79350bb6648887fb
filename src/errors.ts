// Every failure the user can see is one of these classes; src/cli/main.ts alone
// maps them to exit codes (changesets' ExitError / smallstep's run() habit).
// Messages are one line, name the file or object, and say what to do next.

/** Documented exit codes (README "Exit codes"). Distinct so scripts and cron can branch on them. */
export const EXIT = {
  OK: 0,
  /** verify/probe: the certificate is not fit to serve (or an endpoint check failed). */
  CHECK_FAILED: 1,
  /** Bad flags or arguments. */
  USAGE: 2,
  /** An input file is missing, unreadable, malformed, or its passphrase is wrong. */
  INPUT: 3,
  /** kubectl missing, cluster unreachable, permission denied, object not found: nothing was changed. */
  CLUSTER: 4,
  /** The change failed and was rolled back: the previous certificate is back and served. */
  ROLLED_BACK: 5,
  /** The change failed AND the rollback failed: manual attention needed. */
  ROLLBACK_FAILED: 6,
  /** Another run holds the lock, or the secret changed under us: nothing was changed. */
  BUSY: 7,
  /** Several targets: some succeeded, some failed (see the table). */
  PARTIAL: 8,
  /**
   * renew --acme: the CA refused or could not be reached (directory, account, order, challenge):
   * nothing was changed.
   */
  CA: 9,
  /** A bug in xsoar-cert. */
  INTERNAL: 70,
  /** Interrupted (Ctrl-C at a prompt, or SIGINT before anything changed). */
  CANCELLED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class XsoarCertError extends Error {
  readonly exitCode: ExitCode;
  /** Optional second line: what to do next. */
  readonly hint?: string;
  constructor(message: string, exitCode: ExitCode, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Wrong flags, arguments, or a missing value that only the user can supply. */
export class UsageError extends XsoarCertError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.USAGE, hint);
  }
}

/** An input that cannot be read or parsed. `file` is always named in the message. */
export class InputError extends XsoarCertError {
  readonly file?: string;
  constructor(message: string, opts: { file?: string; hint?: string } = {}) {
    super(message, EXIT.INPUT, opts.hint);
    this.file = opts.file;
  }
}

/** A check found the certificate unfit; the details were already printed. */
export class CheckFailedError extends XsoarCertError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.CHECK_FAILED, hint);
  }
}

/** The new certificate drops names the installed one covers (Palette's rule); --allow-name-change overrides. */
export class NameChangeError extends CheckFailedError {
  readonly missing: string[];
  constructor(message: string, missing: string[], hint?: string) {
    super(message, hint);
    this.missing = missing;
  }
}

/** kubectl or the cluster refused or failed. Never carries key material: stderr is redacted by the wrapper. */
export class KubectlError extends XsoarCertError {
  readonly verb: string;
  readonly args: readonly string[];
  readonly stderr: string;
  readonly reason?: string;
  constructor(
    message: string,
    opts: {
      verb: string;
      args: readonly string[];
      stderr?: string;
      reason?: string;
      hint?: string;
      exitCode?: ExitCode;
    },
  ) {
    super(message, opts.exitCode ?? EXIT.CLUSTER, opts.hint);
    this.verb = opts.verb;
    this.args = opts.args;
    this.stderr = opts.stderr ?? '';
    this.reason = opts.reason;
  }
}

/** Lock held by another run, or a concurrent change detected (409 Conflict). */
export class BusyError extends XsoarCertError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.BUSY, hint);
  }
}

/** The secret now holds a change that is neither this run's nor the backup: someone else's, left in place. */
export class ForeignChangeError extends BusyError {}

/** A signal (Ctrl-C / SIGTERM) stopped the work; whatever failed after it failed because of it. */
export class Interrupted extends Error {}

/** The operation failed after changing something; `rolledBack` says whether the old state is back. */
export class TransactionError extends XsoarCertError {
  readonly rolledBack: boolean;
  constructor(message: string, rolledBack: boolean, hint?: string) {
    super(message, rolledBack ? EXIT.ROLLED_BACK : EXIT.ROLLBACK_FAILED, hint);
    this.rolledBack = rolledBack;
  }
}

/** --endpoint does not answer TLS, or serves another certificate than the one installed: nothing changed. */
export class EndpointError extends XsoarCertError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.CLUSTER, hint);
  }
}

export class PartialError extends XsoarCertError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.PARTIAL, hint);
  }
}

export class CancelledError extends XsoarCertError {
  constructor(message = 'Cancelled: nothing was changed.') {
    super(message, EXIT.CANCELLED);
  }
}

export class InternalError extends XsoarCertError {
  constructor(message: string) {
    super(message, EXIT.INTERNAL);
  }
}

/** The ACME CA refused or could not be reached; nothing installed was changed (exit 9). */
export class CaError extends XsoarCertError {
  /** The CA asked to be left alone this long (Retry-After): the next attempt waits at least that. */
  readonly retryAfterS?: number;
  /** The CA's problem type (RFC 8555 §6.7), when it sent one. */
  readonly problem?: string;
  constructor(message: string, hint?: string, opts: { retryAfterS?: number; problem?: string } = {}) {
    super(message, EXIT.CA, hint);
    this.retryAfterS = opts.retryAfterS;
    this.problem = opts.problem;
  }
}
