// The one entry point and the one exit point: commands throw, and main maps the error to an
// exit code (as changesets' cli turns its ExitError into process.exit).
// `--version` is answered before commander is loaded, so it costs one module.
import { VERSION } from '../version.js';
import { installSignals } from '../signals.js';

const argv = process.argv.slice(2);
// At once, before anything is loaded: a signal before any change is "cancelled", exit 130.
installSignals();

// `xsoar-cert inspect --json | head`: a closed pipe is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

async function finish(code: number): Promise<never> {
  // Let piped stdout/stderr drain before exiting (process.exit can truncate pipes).
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  await new Promise<void>((r) => process.stderr.write('', () => r()));
  process.exit(code);
}

async function main(): Promise<number> {
  // ops asks for a passphrase through this hook; the prompt (inquirer) loads only when asked.
  (await import('../ops/prompt-hook.js')).setPassphrasePrompt(async (f) =>
    (await import('./passphrase.js')).promptPassphrase(f),
  );
  const { buildProgram } = await import('./program.js');
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0; // every failure is thrown and mapped to its exit code by reportError
  } catch (err) {
    const { reportError } = await import('./report-error.js');
    return reportError(err, argv);
  }
}

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(VERSION + '\n');
} else {
  // The event loop emptied while the command still waited on something that can no longer happen:
  // a bug, and never a silent exit 0 in the middle of a change.
  let done = false;
  process.on('beforeExit', () => {
    if (done) return;
    done = true;
    process.stderr.write('xsoar-cert: internal error: the run stopped waiting for an answer that cannot come\n');
    process.exit(70);
  });
  main().then(
    (code) => ((done = true), finish(code)),
    async (err: unknown) => {
      done = true;
      // Only reached if reportError itself fails: still no stack unless asked.
      process.stderr.write(`xsoar-cert: internal error: ${String((err as Error)?.message ?? err)}\n`);
      if (process.env.XSOAR_CERT_DEBUG === '1') process.stderr.write(String((err as Error)?.stack) + '\n');
      await finish(70);
    },
  );
}
