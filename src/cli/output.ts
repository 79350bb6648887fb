// Every colour and user-facing message goes through here (STYLE: src/cli/output.ts).
// Colours only when the stream is a TTY and NO_COLOR is unset (https://no-color.org);
// FORCE_COLOR=1 forces them (for the pseudo-terminal tests).
import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
}

function colourLevel(stream: NodeJS.WriteStream): 0 | 1 {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return 0;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return 1;
  return stream.isTTY ? 1 : 0;
}

export const c: ChalkInstance = new Chalk({ level: colourLevel(process.stdout) });
export const ce: ChalkInstance = new Chalk({ level: colourLevel(process.stderr) });

/** Remove anything that looks like key material from text that may reach a terminal, log or JSON. */
export function redact(text: string): string {
  return text
    .replace(/-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(-----END \1-----|$)/g, '[REDACTED $1]')
    .replace(/("?tls\.key"?\s*[:=]\s*"?)[A-Za-z0-9+/=\r\n]{16,}/g, '$1[REDACTED]')
    .replace(/[A-Za-z0-9+/]{200,}={0,2}/g, '[REDACTED base64]');
}

/** The per-command printer: human lines on stderr/stdout, or nothing but the final JSON on stdout. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  constructor(opts: OutputOptions = {}) {
    this.json = Boolean(opts.json);
    this.quiet = Boolean(opts.quiet);
  }
  /** A result line on stdout (suppressed by --json; kept by --quiet). */
  result(line: string): void {
    if (!this.json) process.stdout.write(line + '\n');
  }
  /** Progress and commentary on stderr (suppressed by --json and --quiet). */
  info(line: string): void {
    if (!this.json && !this.quiet) process.stderr.write(line + '\n');
  }
  step(label: string): void {
    this.info(ce.cyan('▸ ') + label);
  }
  ok(line: string): void {
    this.info(ce.green('✓ ') + line);
  }
  warn(line: string): void {
    if (!this.json) process.stderr.write(ce.yellow('! ') + line + '\n');
  }
  fail(line: string): void {
    if (!this.json) process.stderr.write(ce.red('✗ ') + line + '\n');
  }
  /** Print one JSON document on stdout (only in --json mode). */
  emit(value: unknown): void {
    if (this.json) process.stdout.write(redact(JSON.stringify(value, null, 2)) + '\n');
  }
}
