/**
 * Keeps a process of the stack running (`npm start`'s worker and API, and its embedded FerretDB and mail
 * catcher): when it dies unexpectedly it is started again after a backoff (1 s, 2 s, 4 s, ... capped), with a
 * log line naming how it died and the last lines it wrote. A process that keeps failing (by default 5 crashes
 * within 2 minutes) is given up: `onGiveUp` is called once, and the launcher stops everything with a clear
 * message; so is one that exits with a code a restart cannot mend (`fatalExitCodes`: the entry points exit 2 on
 * a configuration error). A run that lasted long enough (`stableMs`) starts the backoff from the beginning again.
 */
import type { ExitInfo, ManagedProcess } from './process';

export interface SupervisorOptions {
  /** Name in log lines, e.g. "worker". */
  name: string;
  /** Starts the process (again). */
  start: () => ManagedProcess;
  /** One line per event (a crash, a restart, the give-up). */
  log: (line: string) => void;
  /** First delay before a restart (default 1 s); doubled for each crash in a row. */
  initialDelayMs?: number;
  /** Longest delay before a restart (default 30 s). */
  maxDelayMs?: number;
  /** Give up after this many crashes ... (default 5) */
  maxCrashes?: number;
  /** ... within this window (default 2 minutes). */
  windowMs?: number;
  /** A run at least this long resets the backoff (default 30 s). */
  stableMs?: number;
  /** Exit codes that mean a restart cannot help (a configuration error: `2`): the process is given up at once. */
  fatalExitCodes?: number[];
  /** Called once when the process is given up, with how it last died, its last lines, and whether its exit code was fatal. */
  onGiveUp: (reason: string, tail: string, fatal: boolean) => void;
  /** Called with each new process (the first one too), e.g. to record its pid. */
  onStart?: (proc: ManagedProcess) => void;
  /** Asked before each restart: false (the whole stack is stopping) leaves the process down, with a log line. */
  shouldRestart?: () => boolean;
}

export interface Supervised {
  readonly name: string;
  /** The current process (the latest one started). */
  readonly current: ManagedProcess;
  /** Restarts so far. */
  readonly restarts: number;
  /** True once the process was given up (crashing too often). */
  readonly gaveUp: boolean;
  /** True while the process is running (false during a backoff, after stop() or a give-up). */
  readonly running: boolean;
  /** Stops supervising and stops the process (SIGTERM, SIGKILL after timeoutMs). */
  stop(timeoutMs?: number): Promise<void>;
}

/** How a process ended, for log lines. */
export function describeExit(info: ExitInfo): string {
  return info.signal ? `killed by ${info.signal}` : `exit code ${info.code}`;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** Starts `opts.start()` now and keeps it running; see the module comment. */
export function supervise(opts: SupervisorOptions): Supervised {
  const initial = opts.initialDelayMs ?? 1000;
  const max = opts.maxDelayMs ?? 30_000;
  const maxCrashes = opts.maxCrashes ?? 5;
  const windowMs = opts.windowMs ?? 120_000;
  const stableMs = opts.stableMs ?? 30_000;

  let current: ManagedProcess;
  let startedAt = 0;
  let restarts = 0;
  let inARow = 0;
  let crashes: number[] = [];
  let stopped = false;
  let gaveUp = false;
  let timer: NodeJS.Timeout | undefined;

  const launch = () => {
    current = opts.start();
    startedAt = Date.now();
    opts.onStart?.(current);
    const proc = current;
    void proc.exited.then((info) => onExit(proc, info));
  };

  const stillWanted = (how: string): boolean => {
    if (!opts.shouldRestart || opts.shouldRestart()) return true;
    stopped = true;
    opts.log(`${opts.name} exited (${how}) while the stack stops: not started again`);
    return false;
  };

  const onExit = (proc: ManagedProcess, info: ExitInfo) => {
    if (stopped || proc.stopping || proc !== current) return;
    if (!stillWanted(describeExit(info))) return;
    const now = Date.now();
    const ran = now - startedAt;
    crashes = [...crashes.filter((t) => now - t < windowMs), now];
    inARow = ran >= stableMs ? 1 : inARow + 1;
    const how = describeExit(info);
    const tail = proc.tail(8).split('\n').map((l) => (l.length > 240 ? `${l.slice(0, 240)}...` : l)).join('\n');
    const fatal = info.code !== null && (opts.fatalExitCodes ?? []).includes(info.code);
    if (fatal || crashes.length >= maxCrashes) {
      gaveUp = true;
      stopped = true;
      const reason = fatal ? `${opts.name} stopped with ${how}, which a restart cannot mend` : `${opts.name} crashed ${crashes.length} times within ${secs(windowMs)} (last: ${how} after ${secs(ran)})`;
      opts.log(`${reason}: giving up`);
      opts.onGiveUp(reason, tail, fatal);
      return;
    }
    const delay = Math.min(max, initial * 2 ** (inARow - 1));
    opts.log(`${opts.name} exited unexpectedly (${how}, pid ${proc.pid}, after ${secs(ran)}); restarting in ${secs(delay)} (crash ${crashes.length} within ${secs(windowMs)}; crash ${maxCrashes} stops the stack)`);
    if (tail) opts.log(`  last lines of ${proc.logFile ?? opts.name}:\n${tail.replace(/^/gm, '    ')}`);
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped || !stillWanted(how)) return;
      try {
        launch();
      } catch (e) {
        // the program gone, its log not writable: no later attempt would do better
        gaveUp = true;
        stopped = true;
        const reason = `${opts.name} could not be started again (${e instanceof Error ? e.message : String(e)})`;
        opts.log(`${reason}: giving up`);
        opts.onGiveUp(reason, '', false);
        return;
      }
      restarts++;
      opts.log(`${opts.name} restarted (pid ${current.pid}, restart ${restarts})`);
    }, delay);
  };

  launch();

  return {
    name: opts.name,
    get current() {
      return current;
    },
    get restarts() {
      return restarts;
    },
    get gaveUp() {
      return gaveUp;
    },
    get running() {
      return !stopped && timer === undefined && current.running;
    },
    async stop(timeoutMs = 10_000) {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current.stop(timeoutMs);
    },
  };
}
