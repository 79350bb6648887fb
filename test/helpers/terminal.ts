// A real pseudo-terminal for tests: the CLI runs inside tmux (its own server socket), keystrokes
// go in with send-keys, and the screen comes back with capture-pane, as an admin over SSH sees it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN } from './run-cli.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface Terminal {
  /** Starts `xsoar-cert ARGS` in a fresh 160x50 terminal in `cwd`, with exactly `env` (plus PATH and TERM). */
  start(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Window;
  /** Stops the tmux server and every window. */
  close(): void;
}

export interface Window {
  screen(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  keys(...k: string[]): void;
  type(text: string): void;
  exitCode(timeoutMs?: number): Promise<number>;
}

export function terminal(): Terminal {
  const socket = `xsoar-cert-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  let n = 0;
  return {
    start(args, { cwd, env }) {
      const name = `w${++n}`;
      const exitFile = path.join(cwd, `.${socket}-${name}.exit`);
      const script = path.join(cwd, `.${socket}-${name}.sh`);
      const all: NodeJS.ProcessEnv = { PATH: process.env.PATH, TERM: 'xterm-256color', ...env };
      const lines = Object.entries(all)
        .filter(([k, v]) => v !== undefined && /^[A-Z_][A-Z0-9_]*$/.test(k))
        .map(([k, v]) => `export ${k}=${q(v!)}`);
      writeFileSync(
        script,
        [
          ...lines,
          `cd ${q(cwd)}`,
          `${q(process.execPath)} ${q(BIN)} ${args.map(q).join(' ')}`,
          `echo $? > ${q(exitFile)}`,
          'sleep 600',
        ].join('\n'),
      );
      tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', `env -i bash ${q(script)}`);
      const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-500', '-t', name);
      return {
        screen,
        async waitFor(re, timeoutMs = 30000) {
          const until = Date.now() + timeoutMs;
          for (;;) {
            const s = screen();
            if (re.test(s)) return s;
            if (Date.now() > until) throw new Error(`timed out waiting for ${re} on the terminal:\n${s}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        keys: (...k) => void tmux('send-keys', '-t', name, ...k),
        type: (text) => void tmux('send-keys', '-t', name, '-l', text),
        async exitCode(timeoutMs = 60000) {
          const until = Date.now() + timeoutMs;
          while (!existsSync(exitFile) || readFileSync(exitFile, 'utf8').trim() === '') {
            if (Date.now() > until) throw new Error(`no exit; the terminal shows:\n${screen()}`);
            await new Promise((r) => setTimeout(r, 100));
          }
          return Number(readFileSync(exitFile, 'utf8').trim());
        },
      };
    },
    close() {
      try {
        tmux('kill-server');
      } catch {
        /* no server left */
      }
    },
  };
}
