// Maps any thrown value to one short message and an exit code; the stack only with
// XSOAR_CERT_DEBUG=1 (smallstep/cli's STEPDEBUG).
import { CheckFailedError, EXIT, PartialError, XsoarCertError } from '../errors.js';
import { ce, Output, redact } from './output.js';
import { printable, printableJson, printableLines } from '../printable.js';

interface CommanderLikeError {
  code: string;
  exitCode: number;
}

function isCommanderError(err: unknown): err is CommanderLikeError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    String((err as { code: string }).code).startsWith('commander.')
  );
}

export function reportError(err: unknown, argv: readonly string[]): number {
  const debug = process.env.XSOAR_CERT_DEBUG === '1';
  const json = argv.includes('--json');
  if (isCommanderError(err)) {
    // commander already printed its message (or the help/version text).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
      return EXIT.OK;
    return EXIT.USAGE;
  }
  let code: number;
  let message: string;
  let hint: string | undefined;
  if (err instanceof XsoarCertError) {
    code = err.exitCode;
    message = err.message;
    hint = err.hint;
  } else if (isPromptExit(err)) {
    code = EXIT.CANCELLED;
    message = 'Cancelled: nothing was changed.';
  } else {
    code = EXIT.INTERNAL;
    const m = err instanceof Error ? err.message : String(err);
    message = `internal error: ${m}`;
    hint = 'This is a bug in xsoar-cert; please report it with the output of XSOAR_CERT_DEBUG=1.';
  }
  message = redact(message);
  // A failed check or a partly failed fleet in --json mode usually printed its report (ok: false)
  // already; when it did not, the error is the document (never a silent non-zero exit).
  if (json && (err instanceof CheckFailedError || err instanceof PartialError) && Output.emitted) return code;
  if (json) {
    // Structured details an error carries (e.g. renew's per-file reasons) travel with it.
    const details = (err as { details?: unknown }).details;
    process.stdout.write(
      printableJson(
        JSON.stringify(
          { ok: false, error: { message, hint, exitCode: code, ...(details ? { details } : {}) } },
          null,
          2,
        ),
      ) + '\n',
    );
  } else {
    // Messages and hints are one line that may carry file names, certificate subjects, kubectl's
    // stderr or a CA's problem detail: every control character in them is shown escaped.
    process.stderr.write(ce.red('xsoar-cert: ') + printable(message) + '\n');
    if (hint) process.stderr.write('  ' + printable(redact(hint)) + '\n');
    if (!debug && code === EXIT.INTERNAL) process.stderr.write('  Re-run with XSOAR_CERT_DEBUG=1 for more info.\n');
  }
  if (debug && err instanceof Error && err.stack) process.stderr.write(printableLines(redact(err.stack)) + '\n');
  return code;
}

function isPromptExit(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError');
}
