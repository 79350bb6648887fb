// Help text shared by every command: examples and exit codes in --help, as smallstep/cli puts
// them in its command descriptions.
export const EXIT_CODES_HELP = `
EXIT CODES
  0    success (for renew: renewed, or nothing needed doing)
  1    check failed: the certificate is not fit to serve (verify, probe)
  2    usage error: bad flags or arguments
  3    unreadable input: missing file, malformed data, wrong passphrase
  4    cluster error: kubectl missing, cluster unreachable, permission denied (nothing changed)
  5    the change failed and was rolled back: the previous certificate is served again
  6    the change failed and the rollback failed: manual action needed
  7    busy: another run holds the lock, or the secret changed meanwhile (nothing changed)
  8    several targets: some failed (see the table)
  9    renew --acme: the CA refused or could not be reached (nothing changed)
  70   internal error (a bug: please report with XSOAR_CERT_DEBUG=1)
  130  cancelled (Ctrl-C): nothing changed
`;

/** Formats an EXAMPLES section for addHelpText('after', …). */
export function examples(...lines: string[]): string {
  return '\nEXAMPLES\n' + lines.map((l) => (l.startsWith('#') ? `  ${l}` : `  $ ${l}`)).join('\n') + '\n';
}

/** commander helper for repeatable options: --host a --host b → ['a', 'b']. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** EXAMPLES + EXIT CODES for a command's --help. */
export function helpAfter(...lines: string[]): string {
  return examples(...lines) + EXIT_CODES_HELP;
}
