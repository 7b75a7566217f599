/** `npm start`'s supervisor (stack/supervisor.ts) with real child processes that crash. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { rotateLogs } from '../stack/logrotate';
import { spawnManaged, waitUntil } from '../stack/process';
import { supervise, type Supervised } from '../stack/supervisor';

describe('stack: the supervisor restarts a crashed process with backoff', function () {
  this.timeout(60_000);
  let dir: string;
  const running: Supervised[] = [];
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-supervisor-'));
  });
  after(async () => {
    await Promise.all(running.map((s) => s.stop(2000)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A node child that runs `code`; its output goes to `<dir>/<name>.log`. */
  const child = (name: string, code: string) => () =>
    spawnManaged({ name, command: process.execPath, args: ['-e', code], logFile: path.join(dir, `${name}.log`), parentDeathSignal: 'SIGKILL' });

  it('when a process is killed, then it is started again after the first delay, with a log line naming how it died', async () => {
    const lines: string[] = [];
    let gaveUp = '';
    const s = supervise({ name: 'worker', start: child('steady', 'console.log("up"); setInterval(() => {}, 1000)'), log: (l) => lines.push(l), initialDelayMs: 200, onGiveUp: (r) => (gaveUp = r) });
    running.push(s);
    const first = s.current.pid;
    await waitUntil('the first process to print', async () => s.current.tail(5).includes('up'));
    process.kill(first, 'SIGKILL');
    await waitUntil('a restart', async () => s.restarts === 1 && s.running, { intervalMs: 20 });
    expect(s.current.pid).to.not.equal(first);
    expect(lines[0]).to.match(/^worker exited unexpectedly \(killed by SIGKILL, pid \d+, after [\d.]+ s\); restarting in 0\.2 s \(crash 1 within 120 s; crash 5 stops the stack\)$/);
    expect(lines.some((l) => /^worker restarted \(pid \d+, restart 1\)$/.test(l))).to.equal(true);
    expect(gaveUp).to.equal('');
    // a stop is no crash: nothing restarts it
    await s.stop(2000);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.restarts).to.equal(1);
    expect(s.current.running).to.equal(false);
  });

  it('when a process keeps crashing, then the delays double (capped) and it is given up after 5 crashes within the window, once', async () => {
    const lines: string[] = [];
    const giveUps: { reason: string; tail: string }[] = [];
    const starts: number[] = [];
    const s = supervise({
      name: 'api',
      start: child('crasher', 'console.error("cannot connect to the database"); process.exit(3)'),
      log: (l) => lines.push(l),
      initialDelayMs: 100,
      maxDelayMs: 400,
      onGiveUp: (reason, tail) => giveUps.push({ reason, tail }),
      onStart: () => starts.push(Date.now()),
    });
    running.push(s);
    await waitUntil('the give-up', async () => s.gaveUp, { timeoutMs: 20_000, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 600));
    expect(giveUps).to.have.length(1);
    expect(giveUps[0].reason).to.match(/^api crashed 5 times within 120 s \(last: exit code 3 after [\d.]+ s\)$/);
    expect(giveUps[0].tail).to.contain('cannot connect to the database');
    expect(starts).to.have.length(5);
    expect(s.restarts).to.equal(4);
    const delays = lines.map((l) => /restarting in ([\d.]+) s/.exec(l)?.[1]).filter(Boolean);
    expect(delays).to.deep.equal(['0.1', '0.2', '0.4', '0.4']);
    expect(lines.at(-1)).to.match(/giving up$/);
    expect(s.running).to.equal(false);
  });

  it('when a process exits with a code a restart cannot mend (2: its configuration), then it is given up at once, as fatal', async () => {
    const giveUps: { reason: string; fatal: boolean }[] = [];
    const s = supervise({
      name: 'api',
      start: child('misconfigured', 'console.error("configuration: SUPPORT_POLICY_FILE=/x.json: cannot be read as JSON"); process.exit(2)'),
      log: () => undefined,
      initialDelayMs: 50,
      fatalExitCodes: [2],
      onGiveUp: (reason, _tail, fatal) => giveUps.push({ reason, fatal }),
    });
    running.push(s);
    await waitUntil('the give-up', async () => s.gaveUp, { timeoutMs: 10_000, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 300));
    expect(giveUps).to.deep.equal([{ reason: 'api stopped with exit code 2, which a restart cannot mend', fatal: true }]);
    expect(s.restarts).to.equal(0);
  });

  it('when crashes are further apart than the window, then the process is never given up', async () => {
    const lines: string[] = [];
    let gaveUp = false;
    const s = supervise({ name: 'worker', start: child('slow-crasher', 'setTimeout(() => process.exit(1), 150)'), log: (l) => lines.push(l), initialDelayMs: 50, maxDelayMs: 50, maxCrashes: 3, windowMs: 300, onGiveUp: () => (gaveUp = true) });
    running.push(s);
    await waitUntil('six restarts', async () => s.restarts >= 6, { timeoutMs: 20_000, intervalMs: 20 });
    expect(gaveUp).to.equal(false);
    await s.stop(2000);
  });

  it('when a process dies while the stack stops (before its turn to be stopped), then it is not started again', async () => {
    const lines: string[] = [];
    let stopping = false;
    let gaveUp = false;
    const s = supervise({ name: 'mail catcher', start: child('stopping', 'setInterval(() => {}, 1000)'), log: (l) => lines.push(l), initialDelayMs: 200, shouldRestart: () => !stopping, onGiveUp: () => (gaveUp = true) });
    running.push(s);
    // died during its backoff: the timer finds the stack stopping
    process.kill(s.current.pid, 'SIGKILL');
    await waitUntil('the crash line', async () => lines.length > 0, { intervalMs: 20 });
    stopping = true;
    await new Promise((r) => setTimeout(r, 500));
    expect(s.restarts).to.equal(0);
    expect(lines.at(-1)).to.match(/^mail catcher exited \(killed by SIGKILL\) while the stack stops: not started again$/);
    expect(gaveUp).to.equal(false);
  });

  it('when a process cannot be started again (its program gone), then it is given up once, naming why, with no exception thrown', async () => {
    const giveUps: string[] = [];
    let calls = 0;
    const start = child('vanishing', 'setInterval(() => {}, 1000)');
    const s = supervise({
      name: 'FerretDB',
      start: () => {
        calls += 1;
        if (calls > 1) throw new Error('FerretDB is not installed: run npm run setup');
        return start();
      },
      log: () => undefined,
      initialDelayMs: 50,
      onGiveUp: (reason) => giveUps.push(reason),
    });
    running.push(s);
    process.kill(s.current.pid, 'SIGKILL');
    await waitUntil('the give-up', async () => s.gaveUp, { timeoutMs: 5000, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 200));
    expect(giveUps).to.deep.equal(['FerretDB could not be started again (FerretDB is not installed: run npm run setup)']);
    expect(s.running).to.equal(false);
  });
});

describe('stack: a process\'s log file', function () {
  it('when a managed process logs to a file, then the file (and a folder made for it) is its owner\'s only, even one made before as 0644', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-logmode-'));
    try {
      const logs = path.join(dir, 'logs');
      const old = path.join(dir, 'old.log');
      fs.writeFileSync(old, 'before\n', { mode: 0o644 });
      fs.chmodSync(old, 0o644);
      for (const [logFile, console] of [[path.join(logs, 'api.log'), (_line: string) => undefined], [old, false]] as const) {
        const p = spawnManaged({ name: 'lines', command: process.execPath, args: ['-e', 'console.log("user@example.com signed in")'], logFile, console, parentDeathSignal: 'SIGKILL' });
        await waitUntil('the line in the log', async () => fs.readFileSync(logFile, 'utf8').includes('signed in'));
        await p.stop(2000);
        expect((fs.statSync(logFile).mode & 0o777).toString(8), logFile).to.equal('600');
      }
      expect((fs.statSync(logs).mode & 0o777).toString(8)).to.equal('700');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stack: a JSON log stays JSON', function () {
  it('when a process that logs JSON writes a plain line (a refused start, a warning), then its file has it as a JSON line, the console as written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-jsonlog-'));
    try {
      const logFile = path.join(dir, 'api.log');
      const shown: string[] = [];
      const p = spawnManaged({ name: 'api', command: process.execPath, args: ['-e', 'console.log(JSON.stringify({ level: "info", msg: "listening" })); console.error("configuration: PORT is taken")'], logFile, console: (l) => shown.push(l), jsonLog: true, parentDeathSignal: 'SIGKILL' });
      await p.exited;
      // (the first line names the command, which holds both texts: the three lines are waited for)
      await waitUntil('both lines in the log', async () => fs.readFileSync(logFile, 'utf8').trim().split('\n').length === 3);
      const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => [l.level, l.msg])).to.deep.include.members([['info', 'process started'], ['info', 'listening'], ['error', 'configuration: PORT is taken']]);
      expect(lines.find((l) => l.msg === 'configuration: PORT is taken')).to.include({ service: 'api' });
      expect(shown).to.include('[api] configuration: PORT is taken');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stack: log files are rotated past their size', function () {
  it('when a log file grows past the limit while its process writes straight into it, then it is copied to .1 (older copies shifted, two kept, mode kept) and emptied, and the process goes on writing at its start', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-logrotate-'));
    try {
      const logFile = path.join(dir, 'ferretdb.log');
      // a server writing a numbered line every 5 ms into the file it was given (stdout is the file, appended to)
      const p = spawnManaged({ name: 'chatty', command: process.execPath, args: ['-e', 'let n = 0; setInterval(() => console.log(`line ${++n} ${"x".repeat(100)}`), 5)'], logFile, parentDeathSignal: 'SIGKILL' });
      try {
        const lines = () => fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith('line '));
        const rotation = { maxBytes: 4096, keep: 2 };
        for (let round = 1; round <= 3; round++) {
          await waitUntil('the log past its limit', async () => fs.statSync(logFile).size > 4096);
          expect(rotateLogs(dir, rotation)).to.deep.equal(['ferretdb.log']);
          expect(fs.statSync(logFile).size).to.be.below(4096);
          const copy = fs.readFileSync(`${logFile}.1`, 'utf8');
          expect(copy.length).to.be.above(4096);
          expect((fs.statSync(`${logFile}.1`).mode & 0o777).toString(8)).to.equal('600');
          // the writer's next lines land at the start of the emptied file, not past a hole where the old end was
          await waitUntil('new lines after the rotation', async () => lines().length > 2);
          const text = fs.readFileSync(logFile, 'utf8');
          expect(text.startsWith('line '), JSON.stringify(text.slice(0, 40))).to.equal(true);
          expect(text).to.not.contain('\u0000');
          const last = Number(/line (\d+)/.exec(copy.trim().split('\n').at(-1)!)![1]);
          expect(Number(/line (\d+)/.exec(lines()[0])![1])).to.be.above(last);
        }
        // the last lines a crash report quotes still come from the emptied file (they were '' once it was shorter than
        // at the process's start: review)
        expect(p.tail(2)).to.match(/^line \d+ x+\nline \d+ x+$/);
        // two copies kept: .1 the newest, .2 the one before; the oldest dropped
        expect(fs.readdirSync(dir).sort()).to.deep.equal(['ferretdb.log', 'ferretdb.log.1', 'ferretdb.log.2']);
        const first = (f: string) => Number(/line (\d+)/.exec(fs.readFileSync(f, 'utf8'))![1]);
        expect(first(`${logFile}.2`)).to.be.below(first(`${logFile}.1`));
        // a file under the limit is left alone
        expect(rotateLogs(dir, { maxBytes: 1024 * 1024, keep: 2 })).to.deep.equal([]);
      } finally {
        await p.stop(2000);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
