/**
 * `<DATA_DIR>/stack.lock`: the pids of a running `npm start`. A second start while one runs is refused;
 * a stale lock (its launcher is dead) is removed, and servers it left behind are stopped first.
 * The checkout keeps a list of its running stacks (`.local/stacks/`, one entry per lock): each restarts its processes
 * from the checkout's `dist/`, which a start with another DATA_DIR would rebuild under it (scripts/prestart-check.cjs).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { commandLine, isAlive } from './process';

export interface LockEntry {
  name: string;
  pid: number;
  /** A word the process's command line contains (guards against pid reuse). */
  match: string;
  /** Signal that stops it gracefully (default SIGTERM to its process group). */
  signal?: NodeJS.Signals;
  group?: boolean;
}

export interface LockInfo {
  pid: number;
  startedAt: string;
  children: LockEntry[];
}

export class StackRunningError extends Error {
  constructor(readonly lockFile: string, readonly info: LockInfo) {
    super(
      `the stack is already running (pid ${info.pid}, started ${info.startedAt}, lock ${lockFile}): ` +
        `stop it with Ctrl-C in its terminal or \`kill ${info.pid}\`, or run a second stack from another clone of the repository, on ports of its own (README, Configuration)`,
    );
    this.name = 'StackRunningError';
  }
}

/** A stack of this checkout runs with another DATA_DIR: a build here would replace the code it restarts from. */
export class CheckoutInUseError extends Error {
  constructor(readonly lockFile: string, readonly info: LockInfo) {
    super(
      `a stack from this folder is running with DATA_DIR ${path.dirname(lockFile)} (pid ${info.pid}, started ${info.startedAt}), and ` +
        `its processes restart from this folder's dist/, which this start would rebuild: stop it first (\`kill ${info.pid}\`), ` +
        `or run the second stack from another clone of the repository`,
    );
    this.name = 'CheckoutInUseError';
  }
}

const registryEntry = (registryDir: string, lockFile: string) =>
  path.join(registryDir, `${crypto.createHash('sha256').update(path.resolve(lockFile)).digest('hex').slice(0, 16)}.json`);

/**
 * Throws CheckoutInUseError when a stack of this checkout (`registryDir`: its `.local/stacks`) runs with a lock other
 * than `ownLock` (that one assertNotRunning answers, with its own message); entries of stacks no longer running go.
 */
export function assertCheckoutIdle(registryDir: string, ownLock: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(registryDir).filter((n) => n.endsWith('.json'));
  } catch {
    return;
  }
  for (const name of names) {
    const entry = path.join(registryDir, name);
    let lockFile: string | undefined;
    try {
      lockFile = (JSON.parse(fs.readFileSync(entry, 'utf8')) as { lockFile?: string }).lockFile;
    } catch {
      /* unreadable: stale */
    }
    // this start's own lock (assertNotRunning answers it, or it is the caller's own)
    if (lockFile && path.resolve(lockFile) === path.resolve(ownLock)) continue;
    const info = lockFile ? readLock(lockFile) : undefined;
    // a lock being rewritten reads as nothing for a moment: its entry stays
    if (lockFile && !info && fs.existsSync(lockFile)) continue;
    // (the launcher's own command: a reused pid of another node process is no stack)
    if (lockFile && info && launcherAlive(info) && (commandLine(info.pid) || 'start.js').includes('start.js')) throw new CheckoutInUseError(lockFile, info);
    fs.rmSync(entry, { force: true });
  }
}

export interface StackLock {
  readonly file: string;
  /** Rewrites the lock with the current children. */
  update(children: LockEntry[]): void;
  /** Removes the lock (only if it is still ours). */
  release(): void;
}

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

function launcherAlive(info: LockInfo): boolean {
  return info.pid !== process.pid && isAlive(info.pid) && /node|start/.test(commandLine(info.pid) || 'node');
}

/** Stops the processes a dead launcher left behind; returns their names. */
export async function killLeftovers(info: LockInfo, log: (m: string) => void = () => undefined): Promise<string[]> {
  const killed: string[] = [];
  for (const c of [...info.children].reverse()) {
    if (!isAlive(c.pid) || !commandLine(c.pid).includes(c.match)) continue;
    log(`stopping ${c.name} (pid ${c.pid}) left running by an earlier start`);
    const sig = c.signal ?? 'SIGTERM';
    try {
      process.kill(c.group ? -c.pid : c.pid, sig);
    } catch {
      try {
        process.kill(c.pid, sig);
      } catch {
        /* gone */
      }
    }
    const deadline = Date.now() + 10_000;
    while (isAlive(c.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (isAlive(c.pid)) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    killed.push(c.name);
  }
  return killed;
}

/** Throws StackRunningError when a live `npm start` holds the lock `file` (a stale lock is left for acquireLock). */
export function assertNotRunning(file: string): void {
  const info = readLock(file);
  if (info && launcherAlive(info)) throw new StackRunningError(file, info);
}

/**
 * Takes the lock or throws StackRunningError; a stale lock is cleaned up (leftover servers stopped). With
 * `registryDir`, the stack is listed there while it holds the lock (assertCheckoutIdle).
 */
export async function acquireLock(file: string, log?: (m: string) => void, registryDir?: string): Promise<StackLock> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), children: [] };
    try {
      fs.writeFileSync(file, JSON.stringify(info, null, 2), { flag: 'wx' });
      let entry = registryDir ? registryEntry(registryDir, file) : undefined;
      if (entry) {
        try {
          fs.mkdirSync(registryDir!, { recursive: true });
          fs.writeFileSync(entry, JSON.stringify({ lockFile: path.resolve(file) }));
        } catch (e) {
          // a checkout this user cannot write: the stack runs, unlisted (a start with another DATA_DIR is not refused)
          log?.(`could not list this stack in ${registryDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
          entry = undefined;
        }
      }
      return {
        file,
        update(children) {
          info.children = children;
          // whole or not at all for a reader (the prestart check of another start)
          const tmp = `${file}.${process.pid}.tmp`;
          fs.writeFileSync(tmp, JSON.stringify(info, null, 2));
          fs.renameSync(tmp, file);
        },
        release() {
          const cur = readLock(file);
          if (!cur || cur.pid === process.pid) {
            fs.rmSync(file, { force: true });
            if (entry) fs.rmSync(entry, { force: true });
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const other = readLock(file);
    if (other && launcherAlive(other)) throw new StackRunningError(file, other);
    if (other) await killLeftovers(other, log);
    fs.rmSync(file, { force: true });
  }
  throw new Error(`could not take the lock ${file}: delete it if no stack is running`);
}
