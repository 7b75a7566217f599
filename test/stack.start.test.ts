/**
 * `npm start` as an operator runs it: a process manager (or `kill %1`) stops it with SIGTERM to npm, Ctrl-C in a
 * terminal stops it cleanly (the terminal signals the whole process group, and npm passes its own on: one Ctrl-C
 * arrives twice), and a second `npm start` while one runs from this folder (with this DATA_DIR or another) is refused
 * before its build replaces the code the running stack restarts from. The embedded FerretDB and mail catcher are
 * started again when they die.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, isPortFree } from '../stack/ports';
import { isAlive } from '../stack/process';
import { waitFor } from './support/app';

const ROOT = path.resolve(__dirname, '..', '..');
const PORT_VARS = ['PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'FERRETDB_PORT', 'POSTGRES_PORT', 'SMTP_PORT', 'MAIL_UI_PORT'];

interface Started {
  npm: ChildProcess;
  output: () => string;
  launcher: number;
  dir: string;
  ports: Record<string, string>;
  env: NodeJS.ProcessEnv;
}

describe('stack: npm start', function () {
  this.timeout(180_000);
  const started: Started[] = [];

  after(async () => {
    // whatever the outcome, nothing of these tests stays running
    for (const s of started) {
      if (s.launcher && isAlive(s.launcher)) {
        process.kill(s.launcher, 'SIGTERM');
        await waitFor(async () => !isAlive(s.launcher), 60_000).catch(() => undefined);
      }
      if (s.npm.exitCode === null) s.npm.kill('SIGKILL');
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });

  /** `npm start` on free ports and a DATA_DIR of its own, until it says it is running. */
  async function start(opts: { ownProcessGroup?: boolean; publicBaseUrl?: boolean; beforeStart?: (dir: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<Started> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-start-'));
    fs.chmodSync(dir, 0o755); // PostgreSQL runs as its own user when we are root: it must reach the folder
    opts.beforeStart?.(dir);
    const ports: Record<string, string> = {};
    for (const k of PORT_VARS) ports[k] = String(await freePort());
    const env: NodeJS.ProcessEnv = { ...process.env, ...ports, DATA_DIR: dir, PUBLIC_BASE_URL: `http://localhost:${ports.PORT}`, TEMPORAL_ADDRESS: '', MONGODB_URI: '', SMTP_URL: '', ...opts.env };
    if (opts.publicBaseUrl === false) delete env.PUBLIC_BASE_URL;
    // the build and setup (prestart) ran for the test suite already; started with the usual umask (022), whatever the
    // machine's, so that the files' modes below are the stack's doing
    const mask = process.umask(0o022);
    let npm: ReturnType<typeof spawn>;
    try {
      npm = spawn('npm', ['start', '--ignore-scripts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.ownProcessGroup === true });
    } finally {
      process.umask(mask);
    }
    let out = '';
    npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const s: Started = { npm, output: () => out, launcher: 0, dir, ports, env };
    started.push(s);
    await waitFor(async () => out.includes('csp-desk is running') || npm.exitCode !== null, 150_000);
    expect(out, out.slice(-2000)).to.contain('csp-desk is running');
    s.launcher = (JSON.parse(fs.readFileSync(path.join(dir, 'stack.lock'), 'utf8')) as { pid: number }).pid;
    return s;
  }

  async function expectStopped(s: Started): Promise<void> {
    await waitFor(async () => !isAlive(s.launcher), 90_000);
    for (const [k, port] of Object.entries(s.ports)) expect(await isPortFree(Number(port)), `${k} ${port} still in use`).to.equal(true);
    expect(fs.existsSync(path.join(s.dir, 'stack.lock'))).to.equal(false);
  }

  const prestartCheck = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'prestart-check.cjs')], { cwd: ROOT, env, encoding: 'utf8' });

  it('when npm itself gets SIGTERM (a process manager, `kill %1`), then the whole stack stops; a second start meanwhile, with its DATA_DIR or another, is refused before it builds', async () => {
    // a log past LOG_MAX_MB from an earlier run: rotated as the stack starts (the check runs at once, then every minute)
    const big = 'x'.repeat(1023) + '\n';
    const s = await start({ env: { LOG_MAX_MB: '1' }, beforeStart: (dir) => {
      fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'logs', 'temporal.log'), big.repeat(1100), { mode: 0o600 });
    } });
    expect(s.output()).to.contain('log rotated (past LOG_MAX_MB=1): temporal.log');
    expect(fs.statSync(path.join(s.dir, 'logs', 'temporal.log.1')).size).to.equal(1100 * 1024);
    expect(fs.statSync(path.join(s.dir, 'logs', 'temporal.log')).size).to.be.below(1024 * 1024);
    // the pages at the address their emails link to (PUBLIC_BASE_URL), where the session cookie will be
    expect(s.output()).to.contain(`Pages         http://localhost:${s.ports.PORT}/app`);
    // the API's and the worker's lines (the API logs the demo filings' requests) each on a line of their own, never
    // spliced into the progress line of a step still running
    const childLines = s.output().split('\n').filter((l) => /\[(api|worker)\] /.test(l));
    expect(childLines.length).to.be.above(0);
    for (const line of childLines) expect(line, 'a line of the API or the worker').to.match(/^\[(api|worker)\] /);
    // the logs name users by email address: nobody else lists the folder or reads a file (PostgreSQL's own user,
    // when we are root, passes through the folder to its log: the stack above started)
    const mode = (f: string) => (fs.statSync(path.join(s.dir, 'logs', f)).mode & 0o777).toString(8);
    expect(mode('.')).to.equal('711');
    for (const f of ['api.log', 'worker.log', 'postgres.log', 'ferretdb.log']) expect(mode(f), f).to.equal('600');
    // the API's and the worker's logs are JSON lines from the first, the line marking their start included (QA: a
    // `=== …` banner and a blank line were not), so that a log shipper reads them whole
    for (const f of ['api.log', 'worker.log']) {
      const lines = fs.readFileSync(path.join(s.dir, 'logs', f), 'utf8').split('\n').filter((l, i, all) => i < all.length - 1 || l !== '');
      expect(lines.length, f).to.be.above(0);
      for (const line of lines) expect(() => JSON.parse(line), `${f}: ${line}`).to.not.throw();
      expect(JSON.parse(lines[0])).to.include({ level: 'info', msg: 'process started', service: f.replace('.log', '') });
    }
    // Temporal's SQLite file and its companions hold what the workflows were given (contacts, tickets' text): this
    // user's only (QA: 0644)
    const temporalFiles = fs.readdirSync(s.dir).filter((f) => f.startsWith('temporal.db'));
    expect(temporalFiles).to.include('temporal.db');
    for (const f of temporalFiles) expect(mode(`../${f}`), f).to.equal('600');
    // npm start again: refused by the lock check, before a build could touch dist/
    const again = prestartCheck(s.env);
    expect(again.status, again.stderr).to.equal(1);
    expect(again.stderr).to.contain(`the stack is already running (pid ${s.launcher}`);
    // with another DATA_DIR too: its processes restart from this folder's dist/ all the same
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-other-'));
    try {
      const other = prestartCheck({ ...s.env, DATA_DIR: elsewhere });
      expect(other.status, other.stderr).to.equal(1);
      expect(other.stderr).to.contain('a stack from this folder is running with DATA_DIR').and.contain('another clone');
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }

    s.npm.kill('SIGTERM');
    await expectStopped(s);
    // with no stack running, the check lets the start go on
    expect(prestartCheck(s.env).status).to.equal(0);
  });

  it('when the embedded FerretDB or mail catcher is killed, then it is started again and the API serves again, with its data and mail; SIGTERM then stops the new ones too', async () => {
    const s = await start();
    const child = (name: string) => {
      const info = JSON.parse(fs.readFileSync(path.join(s.dir, 'stack.lock'), 'utf8')) as { children: { name: string; pid: number }[] };
      return info.children.find((c) => c.name === name)!.pid;
    };
    const token = (JSON.parse(fs.readFileSync(path.join(s.dir, 'demo-tokens.json'), 'utf8')) as { role: string; token: string }[]).find((t) => t.role === 'admin-agent')!.token;
    const api = `http://127.0.0.1:${s.ports.PORT}`;
    const health = async () => (await fetch(`${api}/health`)).json() as Promise<{ status: string; database: { ok: boolean }; smtp: { ok: boolean } }>;
    const mailUi = `http://127.0.0.1:${s.ports.MAIL_UI_PORT}/email`;
    const mails = async () => ((await (await fetch(mailUi)).json()) as unknown[]).length;
    const mailsBefore = await mails();
    expect(mailsBefore, 'the demo orders\' and tickets\' emails').to.be.above(0);

    const ferret = child('ferretdb');
    process.kill(ferret, 'SIGKILL');
    await waitFor(async () => /FerretDB exited unexpectedly \(killed by SIGKILL, pid \d+/.test(s.output()) && /FerretDB restarted \(pid \d+, restart 1\)/.test(s.output()), 30_000);
    await waitFor(async () => (await health().catch(() => null))?.database.ok === true, 30_000);
    expect(child('ferretdb'), 'the lock names the new FerretDB').to.not.equal(ferret);
    // the data is PostgreSQL's: the demo customers are still there
    const customers = await fetch(`${api}/customers`, { headers: { authorization: `Bearer ${token}` } });
    expect(customers.status).to.equal(200);
    expect(((await customers.json()) as unknown[]).length).to.be.above(0);
    // HTTP_KEEP_ALIVE_TIMEOUT_SECONDS' default: an idle connection outlives a load balancer's 60 s
    expect(customers.headers.get('keep-alive'), 'the API keeps an idle connection 65 s').to.equal('timeout=65');

    const mail = child('mailcatcher');
    process.kill(mail, 'SIGKILL');
    await waitFor(async () => /mail catcher restarted \(pid \d+, restart 1\)/.test(s.output()), 30_000);
    await waitFor(async () => (await health().catch(() => null))?.smtp.ok === true, 30_000);
    // the messages were kept in the mail folder and read back in
    await waitFor(async () => (await mails().catch(() => 0)) >= mailsBefore, 30_000);
    expect(s.output()).to.not.contain('stopping the stack');

    s.npm.kill('SIGTERM');
    // (every port free: the restarted FerretDB and mail catcher were stopped with the rest)
    await expectStopped(s);
  });

  it('when Ctrl-C is pressed in its terminal (SIGINT to the whole process group), then the stack stops cleanly, not as a second Ctrl-C', async () => {
    // (PUBLIC_BASE_URL unset: the links follow this stack's PORT, not .env.example's 3000)
    const s = await start({ ownProcessGroup: true, publicBaseUrl: false });
    expect(s.output()).to.contain(`Pages         http://localhost:${s.ports.PORT}/app`);
    process.kill(-s.npm.pid!, 'SIGINT');
    await expectStopped(s);
    expect(s.output()).to.contain('Ctrl-C: stopping').and.not.contain('second Ctrl-C');
    // PostgreSQL was asked to stop, not killed (which would leave it to recover at the next start)
    const pgLog = fs.readFileSync(path.join(s.dir, 'logs', 'postgres.log'), 'utf8');
    expect(pgLog).to.not.contain('immediate shutdown');
  });
});
