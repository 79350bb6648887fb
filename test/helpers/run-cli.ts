// Runs the built CLI (bin/xsoar-cert.js -> dist/) as a user would, capturing
// stdout, stderr and the exit code. `npm test` builds dist/ first (pretest).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'xsoar-cert.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Run as this local user (the tests run as root): through setpriv, with its own primary group. */
  user?: 'nobody' | 'daemon';
}

/** The command line that runs `argv` as `user` (setpriv from util-linux), or argv itself. */
export function asUser(user: CliOptions['user'], argv: string[]): string[] {
  if (!user) return argv;
  const group = user === 'nobody' ? 'nogroup' : user;
  return ['setpriv', `--reuid=${user}`, `--regid=${group}`, '--clear-groups', ...argv];
}

export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...argv] = asUser(opts.user, [process.execPath, BIN, ...args]);
    const child = spawn(cmd!, argv, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', XSOAR_CERT_DEBUG: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`xsoar-cert ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    // A command that exits before reading its stdin (a usage error) closes the pipe first: EPIPE is not a failure.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin.end(opts.input ?? '');
  });
}
