// Every colour and user-facing message goes through here.
// Colours only when the stream is a TTY and NO_COLOR is unset (https://no-color.org);
// FORCE_COLOR=1 forces them (for the pseudo-terminal tests).
import type { Reporter } from '../ops/reporter.js';
import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  /** Where progress and commentary go (default process.stderr; tests pass their own). */
  err?: NodeJS.WritableStream & { isTTY?: boolean };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** The one live spinner line (at most one wait is drawn at a time; nested waits just run). */
let spinning: { clear(): void; redraw(): void } | undefined;

function colourLevel(stream: NodeJS.WriteStream): 0 | 1 {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return 0;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return 1;
  return stream.isTTY ? 1 : 0;
}

export const c: ChalkInstance = new Chalk({ level: colourLevel(process.stdout) });
export const ce: ChalkInstance = new Chalk({ level: colourLevel(process.stderr) });

export { redact } from '../redact.js';
import { redact } from '../redact.js';
import { printableJson, printableRendered } from '../printable.js';

/** The per-command printer: human lines on stderr/stdout, or nothing but the final JSON on stdout. */
export class Output implements Reporter {
  readonly json: boolean;
  readonly quiet: boolean;
  private readonly err: NodeJS.WritableStream & { isTTY?: boolean };
  constructor(opts: OutputOptions = {}) {
    this.json = Boolean(opts.json);
    this.quiet = Boolean(opts.quiet);
    this.err = opts.err ?? process.stderr;
  }
  /** The same destination with progress silenced (per-tenant work inside a fleet run). */
  quietCopy(): Output {
    return new Output({ json: this.json, quiet: true, err: this.err });
  }
  private line(text: string): void {
    spinning?.clear();
    this.err.write(printableRendered(text) + '\n');
    spinning?.redraw();
  }
  /** A result line on stdout (suppressed by --json; kept by --quiet). */
  result(line: string): void {
    if (!this.json) process.stdout.write(printableRendered(line) + '\n');
  }
  /** Progress and commentary on stderr (suppressed by --json and --quiet). */
  info(line: string): void {
    if (!this.json && !this.quiet) this.line(line);
  }
  step(label: string): void {
    this.info(ce.cyan('▸ ') + label);
  }
  ok(line: string): void {
    this.info(ce.green('✓ ') + line);
  }
  warn(line: string): void {
    if (!this.json) this.line(ce.yellow('! ') + line);
  }
  fail(line: string): void {
    if (!this.json) this.line(ce.red('✗ ') + line);
  }
  /**
   * Await `work`, showing that we are waiting when it takes longer than a second: on a terminal a
   * spinner with the elapsed seconds (erased when done), elsewhere (cron, CI logs) one plain
   * "still waiting" line per 10 s. Silent with --json and --quiet.
   */
  async wait<T>(label: string, work: Promise<T>, opts: { afterMs?: number; everyMs?: number } = {}): Promise<T> {
    if (this.json || this.quiet || spinning) return work;
    const start = Date.now();
    const secs = () => `${((Date.now() - start) / 1000).toFixed(1)}s`;
    const tty = Boolean(this.err.isTTY);
    let frame = 0;
    let drawn = false;
    const self = {
      clear: () => {
        if (drawn) this.err.write('\r\x1b[K');
      },
      redraw: () => {
        if (!tty) return;
        this.err.write(
          `\r\x1b[K${ce.cyan(FRAMES[frame++ % FRAMES.length]!)} ${printableRendered(label)} ${ce.dim(secs())}`,
        );
        drawn = true;
      },
    };
    let ticker: NodeJS.Timeout | undefined;
    const first = setTimeout(() => {
      if (spinning) return; // another wait is already drawn
      spinning = self;
      if (tty) {
        self.redraw();
        ticker = setInterval(self.redraw, 100);
      } else {
        this.err.write(`… ${printableRendered(label)} (waiting ${secs()})\n`);
        ticker = setInterval(
          () => this.err.write(`… ${printableRendered(label)} (still waiting, ${secs()})\n`),
          opts.everyMs ?? 10_000,
        );
      }
      ticker.unref();
    }, opts.afterMs ?? 1000);
    first.unref();
    try {
      return await work;
    } finally {
      clearTimeout(first);
      if (ticker) clearInterval(ticker);
      if ((spinning as typeof self | undefined) === self) {
        self.clear();
        spinning = undefined;
      }
    }
  }
  /** Print one JSON document on stdout (only in --json mode). */
  /** Set once any --json document was written: a failure after it must not write a second one. */
  static emitted = false;

  emit(value: unknown): void {
    if (!this.json) return;
    Output.emitted = true;
    if (this.json) process.stdout.write(printableJson(redact(JSON.stringify(value, null, 2))) + '\n');
  }
}
