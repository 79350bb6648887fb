// A debug hook for the kill tests (test/e2e/files-nginx.test.ts): with XSOAR_CERT_DEBUG_STOP_AT=NAME
// the run says so on stderr and stops itself (SIGSTOP) at that point, so a test can SIGKILL it at
// exactly that step instead of racing a timer. Children never see it (child-env.ts drops XSOAR_CERT_*).

/** Stop here when XSOAR_CERT_DEBUG_STOP_AT names this point. */
export function stopPoint(name: string): void {
  if (process.env.XSOAR_CERT_DEBUG_STOP_AT !== name) return;
  process.stderr.write(`xsoar-cert: debug stop at ${name} (pid ${process.pid})\n`);
  process.kill(process.pid, 'SIGSTOP');
}
