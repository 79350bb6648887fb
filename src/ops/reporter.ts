// What the operations need to tell a person while they work. ops owns this small interface and
// the cli implements it (cli/output.ts), so ops never imports the cli (arrows point one way).
export interface Reporter {
  /** A step begins ("Backup: ns/name"). */
  step(label: string): void;
  ok(line: string): void;
  warn(line: string): void;
  fail(line: string): void;
  info(line: string): void;
  /** Await `work`, showing that we wait when it takes long (a spinner, or a "still waiting" line). */
  wait<T>(label: string, work: Promise<T>): Promise<T>;
  /** The same reporter with only failures shown (for the per-tenant work of a fleet). */
  quietCopy(): Reporter;
}
