/**
 * Spawning the stack's servers: output to a log file (or prefixed to the console), each child in its own
 * process group, stop() = SIGTERM to the group then SIGKILL after a timeout. Every live child is also killed
 * synchronously by killAllSync() (called from process 'exit' handlers), and on Linux children get
 * PR_SET_PDEATHSIG (via util-linux `setpriv`) so they die with us even if we are SIGKILLed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export interface SpawnOptions {
  /** Short name used in messages and as console prefix, e.g. "ferretdb". */
  name: string;
  command: string;
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Append stdout+stderr to this file (created with its folder). */
  logFile?: string;
  /**
   * Also (or, without logFile, only) write each output line to the console as `[name] line`: to stderr, stdout, or
   * through a function of the caller's (`npm start` ends its own unfinished progress line before a child's line)
   */
  console?: boolean | 'stdout' | 'stderr' | ((line: string) => void);
  /** Signal the child gets if this process dies (default SIGTERM; null = none). */
  parentDeathSignal?: NodeJS.Signals | null;
  /** The file mode creation mask the child starts with (default: this process's), e.g. 0o077 for files of its owner only. */
  umask?: number;
  /**
   * The child logs JSON lines (pino): the line that marks its start in the log file is one too, and so is any plain
   * line it writes (a start refused, Node's warnings: `msg`, level error from stderr), so that a log shipper reads
   * every line of the file as JSON (QA: the `=== …` banner and a blank line were not). Needs `console` (lines pass
   * through this process); the console shows them as written.
   */
  jsonLog?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile?: string;
  /** Resolves when the child has exited. */
  readonly exited: Promise<ExitInfo>;
  /** True until the child has exited. */
  readonly running: boolean;
  /** True once stop() was called (an exit after that is expected). */
  readonly stopping: boolean;
  /** SIGTERM to the child's process group, SIGKILL after timeoutMs (default 10 s). Idempotent. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  /** Last lines this run wrote to the log file (for error messages). */
  tail(lines?: number): string;
  /** First lines this run wrote to the log file, after its header (a Go panic's own message comes first). */
  head(lines?: number): string;
}

const live = new Set<ManagedProcess>();
const syncCleanups = new Set<() => void>();

let setprivChecked: boolean | undefined;
function hasSetprivPdeathsig(): boolean {
  if (setprivChecked === undefined) {
    if (process.platform !== 'linux') setprivChecked = false;
    else {
      const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
      setprivChecked = r.status === 0 && /pdeathsig/.test(String(r.stdout));
    }
  }
  return setprivChecked;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Last `lines` lines of a text file ('' when absent), only from byte `since` on; from its start when it is shorter than
 * that (rotated meanwhile: stack/logrotate.ts empties a file in place, and what it holds is all this start's).
 */
export function tailFile(file: string, lines = 20, since = 0): string {
  try {
    const size = fs.statSync(file).size;
    const from = since > size ? 0 : since;
    const fd = fs.openSync(file, 'r');
    try {
      const len = Math.max(0, Math.min(size - from, 64 * 1024));
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * First `lines` non-blank lines of a text file from byte `since` on (from its start when it is shorter than that: rotated
 * meanwhile), within its first 64 KiB from there ('' when absent).
 */
export function headFile(file: string, lines = 20, since = 0): string {
  try {
    const from = since > fs.statSync(file).size ? 0 : since;
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const n = fs.readSync(fd, buf, 0, buf.length, from);
      return buf.subarray(0, n).toString('utf8').split('\n').filter((l) => l.trim() !== '').slice(0, lines).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** Starts a child process; see SpawnOptions. */
export function spawnManaged(opts: SpawnOptions): ManagedProcess {
  const args = opts.args ?? [];
  let command = opts.command;
  let fullArgs = args;
  const deathSignal = opts.parentDeathSignal === undefined ? 'SIGTERM' : opts.parentDeathSignal;
  if (deathSignal && hasSetprivPdeathsig()) {
    fullArgs = ['--pdeathsig', deathSignal, '--', command, ...args];
    command = 'setpriv';
  }

  let logFd: number | undefined;
  let logStart = 0;
  if (opts.logFile) {
    // owner only: the service's lines name users (email addresses), and the servers' may name what they store
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true, mode: 0o700 });
    logFd = fs.openSync(opts.logFile, 'a', 0o600);
    // a file made before this rule (0644) is narrowed too
    fs.fchmodSync(logFd, 0o600);
    logStart = fs.fstatSync(logFd).size;
    fs.writeSync(
      logFd,
      opts.jsonLog
        ? `${JSON.stringify({ level: 'info', time: new Date().toISOString(), service: opts.name, msg: 'process started', command: [opts.command, ...args].join(' ') })}\n`
        : `\n=== ${new Date().toISOString()} ${opts.name}: ${opts.command} ${args.join(' ')}\n`,
    );
  }
  const toConsole = opts.console ?? false;
  // Straight into the file when nothing goes to the console: the child keeps writing even if we die.
  const direct = logFd !== undefined && !toConsole;
  // a child inherits the mask its parent has when it is made: set for that moment only (spawn makes it at once)
  const previousMask = opts.umask === undefined ? undefined : process.umask(opts.umask);
  let child: ChildProcess;
  try {
    child = spawn(command, fullArgs, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', direct ? logFd! : 'pipe', direct ? logFd! : 'pipe'],
    });
  } finally {
    if (previousMask !== undefined) process.umask(previousMask);
  }
  if (direct) fs.closeSync(logFd!);

  if (!direct) {
    const stream = toConsole === 'stdout' ? process.stdout : process.stderr;
    const out = typeof toConsole === 'function' ? toConsole : (line: string) => stream.write(`${line}\n`);
    const logStream = logFd !== undefined ? fs.createWriteStream('', { fd: logFd, autoClose: true }) : undefined;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
      // a JSON log's plain lines (a start refused, Node's warnings, an uncaught error) go into the file as JSON too
      const level = stream === child.stderr ? 'error' : 'info';
      rl.on('line', (line) => {
        logStream?.write(opts.jsonLog && !line.startsWith('{') ? `${JSON.stringify({ level, time: new Date().toISOString(), service: opts.name, msg: line })}\n` : line + '\n');
        if (toConsole) out(`[${opts.name}] ${line}`);
      });
    }
    child.once('exit', () => setTimeout(() => logStream?.end(), 50));
  }

  let running = true;
  let stopping = false;
  let stopPromise: Promise<ExitInfo> | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (err) => {
      running = false;
      live.delete(mp);
      if (opts.logFile) fs.appendFileSync(opts.logFile, `${opts.name}: cannot start ${opts.command}: ${err.message}\n`);
      resolve({ code: 127, signal: null });
    });
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(mp);
      resolve({ code, signal });
    });
  });

  const mp: ManagedProcess = {
    name: opts.name,
    pid: child.pid ?? -1,
    child,
    logFile: opts.logFile,
    exited,
    get running() {
      return running;
    },
    get stopping() {
      return stopping;
    },
    stop(timeoutMs = 10_000) {
      stopping = true;
      if (stopPromise) return stopPromise;
      if (!running || child.pid === undefined) return (stopPromise = exited);
      killGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (running && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      }, timeoutMs);
      stopPromise = exited.then((info) => {
        clearTimeout(timer);
        // Leftovers of the group (grandchildren) go too.
        if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
        return info;
      });
      return stopPromise;
    },
    tail(lines = 20) {
      return opts.logFile ? tailFile(opts.logFile, lines, logStart) : '';
    },
    head(lines = 20) {
      // the run's own header line (=== time name: command) is not output
      return opts.logFile ? headFile(opts.logFile, lines + 1, logStart).split('\n').slice(1).join('\n') : '';
    },
  };
  if (child.pid !== undefined) live.add(mp);
  return mp;
}

/** Registers a synchronous cleanup run by killAllSync() (e.g. `pg_ctl stop -m immediate`). Returns an unregister function. */
export function onKillAllSync(fn: () => void): () => void {
  syncCleanups.add(fn);
  return () => syncCleanups.delete(fn);
}

/** SIGKILLs every live managed child's process group and runs the registered sync cleanups. Safe in 'exit' handlers. */
export function killAllSync(): void {
  for (const mp of live) if (mp.running && mp.pid > 0) killGroup(mp.pid, 'SIGKILL');
  live.clear();
  for (const fn of syncCleanups) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
  syncCleanups.clear();
}

/** The managed children still running. */
export function liveProcesses(): ManagedProcess[] {
  return [...live];
}

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process ('' when unknown). Linux only. */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Runs a command to completion; rejects with its output when it fails. */
export function run(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.once('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${command}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${[command, ...args].join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}

/** Polls `check` every intervalMs until it returns true; rejects after timeoutMs with `what`. `abort` may throw to stop early. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 30_000, intervalMs = 200, abort }: { timeoutMs?: number; intervalMs?: number; abort?: () => void } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    abort?.();
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
