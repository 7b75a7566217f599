/**
 * Keeps `npm start`'s log files bounded (`<DATA_DIR>/logs/*.log`). Each server and the seed write straight into
 * their file (their stdout and stderr are the file, opened for append, so that they keep logging should the stack
 * die: stack/process.ts), and PostgreSQL opens its own; none of them can be told to reopen it. So a file that grew
 * past its limit is copied to `<name>.1` (the older copies shifted to `.2` …, the oldest dropped) and emptied in
 * place, as logrotate's `copytruncate` does: every writer appends, so its next line lands at the start of the emptied
 * file. A line written between the copy and the emptying is lost (the same trade as `copytruncate`'s); the copies
 * keep the files' mode (0600).
 *
 * Not a library: rotation libraries (rotating-file-stream, pino-roll) rotate what they write themselves, and here the
 * writers are other programs holding the file open.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface LogRotation {
  /** a file is rotated once larger than this */
  maxBytes: number;
  /** how many rotated copies each file keeps (`.1` the newest) */
  keep: number;
}

/** Rotates each `*.log` in `dir` larger than `maxBytes`; the files rotated, by name. */
export function rotateLogs(dir: string, { maxBytes, keep }: LogRotation): string[] {
  const rotated: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.log'));
  } catch {
    return rotated;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const st = fs.statSync(file);
      if (!st.isFile() || st.size <= maxBytes) continue;
      for (let n = keep - 1; n >= 1; n--) {
        if (fs.existsSync(`${file}.${n}`)) fs.renameSync(`${file}.${n}`, `${file}.${n + 1}`);
      }
      fs.copyFileSync(file, `${file}.1`);
      fs.chmodSync(`${file}.1`, st.mode & 0o777);
      fs.truncateSync(file, 0);
      rotated.push(name);
    } catch {
      // gone meanwhile, or not ours to rotate: tried again at the next check
    }
  }
  return rotated;
}

/** Checks `dir` now, then every `everyMs`; returns what stops it. */
export function startLogRotation(dir: string, rotation: LogRotation, everyMs: number, onRotated: (names: string[]) => void): () => void {
  const check = () => {
    const names = rotateLogs(dir, rotation);
    if (names.length) onRotated(names);
  };
  check();
  const timer = setInterval(check, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
