// One `kubectl proxy --unix-socket` per cluster per run: kubectl keeps doing what only it does well
// (every kubeconfig authentication: client certificates, tokens, exec plugins, OIDC), and
// xsoar-cert speaks REST to it over keep-alive HTTP instead of starting a kubectl per step (issue
// 19: 45-90 ms a process here). The socket carries the user's credentials, so it lives in a
// folder only the user may enter (state-dir.ts runFolder), no TCP port is opened, and the proxy
// never outlives the run: it is killed on exit, and started under `setpriv --pdeathsig KILL` so a
// SIGKILLed run takes it along; the next run removes what such a run left.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { childEnv } from '../child-env.js';
import { KubectlError } from '../errors.js';
import { redact } from '../redact.js';
import { removeQuietly, runFolder, writeStateFile } from '../state-dir.js';

export interface ProxyOptions {
  bin: string;
  kubeconfig?: string;
  context?: string;
  timeoutMs: number;
}

export interface Proxy {
  socket: string;
  pid: number;
  /** False once the process has exited. */
  alive(): boolean;
  close(): void;
}

const SETPRIV = '/usr/bin/setpriv';
const READY = /Starting to serve on /;
const STALE = /^k-(\d+)-[0-9a-f]+\.(sock|pid)$/;

/** Start the proxy and wait until it serves; a KubectlError (exit 4) when it cannot. */
export async function startProxy(o: ProxyOptions): Promise<Proxy> {
  const bin = findBinary(o.bin);
  const { dir, temporary } = runFolder(32);
  if (!temporary) sweepStale(dir);
  const name = `k-${process.pid}-${randomBytes(4).toString('hex')}`;
  const socket = path.join(dir, `${name}.sock`);
  const pidFile = path.join(dir, `${name}.pid`);
  const args = [
    ...(o.kubeconfig ? [`--kubeconfig=${o.kubeconfig}`] : []),
    ...(o.context ? [`--context=${o.context}`] : []),
    'proxy',
    `--unix-socket=${socket}`,
  ];
  const withSetpriv = canRun(SETPRIV);
  const child = withSetpriv
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', bin, ...args], spawnOpts())
    : spawn(bin, args, spawnOpts());
  let exited = false;
  const cleanup = () => {
    if (!exited) child.kill('SIGKILL');
    removeQuietly(socket);
    removeQuietly(pidFile);
    if (temporary) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  child.on('exit', () => {
    exited = true;
  });
  try {
    await ready(child, o);
  } catch (err) {
    cleanup();
    process.off('exit', cleanup);
    throw err;
  }
  writeStateFile(pidFile, String(child.pid));
  // The run ends when its work does: the proxy and its pipes do not hold the event loop open.
  child.unref();
  (child.stdout as unknown as { unref(): void }).unref();
  (child.stderr as unknown as { unref(): void }).unref();
  return {
    socket,
    pid: child.pid!,
    alive: () => !exited,
    close: () => {
      cleanup();
      process.off('exit', cleanup);
    },
  };
}

const spawnOpts = () => ({ env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] });

/** Resolves once the proxy prints its ready line; rejects with its first error line if it exits first. */
function ready(child: ChildProcess, o: ProxyOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(proxyError(`kubectl proxy did not start within ${Math.round(o.timeoutMs / 1000)} s`, err, o));
    }, o.timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out = (out + d.toString('utf8')).slice(-4096);
      if (READY.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString('utf8')).slice(-4096);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(proxyError(`kubectl could not be started (${e.message})`, err, o));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(proxyError(`kubectl proxy exited (${code ?? 'signal'})`, err, o, out));
    });
  });
}

function proxyError(what: string, stderr: string, o: ProxyOptions, stdout = ''): KubectlError {
  const lines = redact(stderr.trim())
    .split('\n')
    .filter((l) => l && !/^Warning:/.test(l));
  const first = lines[0]?.replace(/^error: /, '');
  if (/unknown flag: --unix-socket/.test(stderr))
    return new KubectlError(`${o.bin} is too old: its "kubectl proxy" has no --unix-socket`, {
      verb: 'proxy',
      args: [],
      stderr,
      hint: 'Install a current kubectl (Debian: apt install kubernetes-client) or set XSOAR_CERT_KUBECTL to one.',
    });
  const where = o.context ? ` (context ${o.context})` : '';
  // client-go asks for basic-auth credentials on a terminal when the kubeconfig user has none.
  if (/Please enter Username/.test(stdout + stderr))
    return new KubectlError(`cannot reach the cluster${where}: the kubeconfig user has no credentials for it`, {
      verb: 'proxy',
      args: [],
      stderr,
      reason: 'Unauthorized',
      hint: 'Check the user of this context (kubectl config view --minify): a token, certificate or exec plugin.',
    });
  return new KubectlError(`cannot reach the cluster${where}: ${first ?? what}`, {
    verb: 'proxy',
    args: [],
    stderr,
    reason: first ? undefined : 'Unreachable',
    hint: 'Check KUBECONFIG / --context (kubectl config get-contexts) and that kubectl works for this user.',
  });
}

/** `bin` as a path to run: as given when it holds a "/", else the first on PATH (kubectl not found: exit 4). */
function findBinary(bin: string): string {
  const candidates = bin.includes('/')
    ? [bin]
    : (process.env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((d) => path.join(d, bin));
  const found = candidates.find(canRun);
  if (found) return found;
  throw new KubectlError(`kubectl not found (looked for "${bin}" on PATH)`, {
    verb: 'proxy',
    args: [],
    hint: 'Install it (Debian: apt install kubernetes-client) or set XSOAR_CERT_KUBECTL to its path.',
  });
}

function canRun(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Sockets and pid files of runs that are gone (SIGKILLed): removed, and their proxy killed if it survived. */
function sweepStale(dir: string): void {
  for (const f of readdirSync(dir)) {
    const m = STALE.exec(f);
    if (!m || isAlive(Number(m[1]))) continue;
    const p = path.join(dir, f);
    if (m[2] === 'pid') killOrphan(p, dir);
    removeQuietly(p);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The recorded proxy pid, killed only if that process is still a kubectl serving in `dir`. */
function killOrphan(pidFile: string, dir: string): void {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').slice(0, 20));
    if (!Number.isInteger(pid) || pid <= 1) return;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmd.includes(`--unix-socket=${dir}/`)) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}
