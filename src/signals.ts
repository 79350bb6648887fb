// SIGINT/SIGTERM from the first moment: before anything changes, a signal is "cancelled: nothing
// was changed" with exit 130 (it used to die with 143 and no word). Once a transaction runs it
// takes over (it rolls back what it changed), through setSignalHandler.
let handler: ((sig: NodeJS.Signals) => void) | undefined;
let installed = false;

function onSignal(sig: NodeJS.Signals): void {
  if (handler) return handler(sig);
  cancelNow(sig);
}

export function installSignals(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** The transaction engine's handler; `undefined` gives the early behaviour back. */
export function setSignalHandler(fn: ((sig: NodeJS.Signals) => void) | undefined): void {
  installSignals();
  handler = fn;
}

/** What a handler does when nothing of its own is in flight. */
export function cancelNow(sig: NodeJS.Signals): never {
  process.stderr.write(
    `\nxsoar-cert: ${sig === 'SIGINT' ? 'interrupted (Ctrl-C)' : 'SIGTERM'}: cancelled: nothing was changed.\n`,
  );
  process.exit(130);
}

// While a transaction runs: each registered abort is called on SIGINT/SIGTERM (it then rolls back
// what it changed); with none registered, a signal cancels at once.
const active = new Set<{ abort(): void; what?: string }>();

function onTransactionSignal(sig: NodeJS.Signals): void {
  if (active.size === 0) cancelNow(sig);
  const what = [...active].find((a) => a.what)?.what ?? 'restoring the previous certificate';
  process.stderr.write(`\nxsoar-cert: ${sig}: stopping and ${what}, please wait...\n`);
  for (const a of active) a.abort();
}

/** Run `fn` on SIGINT/SIGTERM until the returned function is called. */
export function onInterrupt(fn: () => void, what?: string): () => void {
  const handle = { abort: fn, what };
  setSignalHandler(onTransactionSignal);
  active.add(handle);
  return () => active.delete(handle);
}
