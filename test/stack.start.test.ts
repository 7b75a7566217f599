/**
 * `npm start` as an operator runs it: a process manager (or `kill %1`) stops it with SIGTERM to npm, and a second
 * `npm start` while one runs is refused before its build replaces the code the running stack restarts from.
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

describe('stack: npm start', function () {
  this.timeout(180_000);
  let dir = '';
  let npm: ChildProcess | undefined;
  let launcher = 0;

  after(async () => {
    // whatever the outcome, nothing of this test stays running
    if (launcher && isAlive(launcher)) {
      process.kill(launcher, 'SIGTERM');
      await waitFor(async () => !isAlive(launcher), 60_000).catch(() => undefined);
    }
    if (npm && npm.exitCode === null) npm.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when npm itself gets SIGTERM (a process manager, `kill %1`), then the whole stack stops; a second start meanwhile is refused before it builds', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-start-'));
    fs.chmodSync(dir, 0o755); // PostgreSQL runs as its own user when we are root: it must reach the folder
    const ports: Record<string, string> = {};
    for (const k of ['PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'FERRETDB_PORT', 'POSTGRES_PORT', 'SMTP_PORT', 'MAIL_UI_PORT']) ports[k] = String(await freePort());
    const env = { ...process.env, ...ports, DATA_DIR: dir, PUBLIC_BASE_URL: `http://localhost:${ports.PORT}`, TEMPORAL_ADDRESS: '', MONGODB_URI: '', SMTP_URL: '' };
    // the build and setup (prestart) ran for the test suite already
    npm = spawn('npm', ['start', '--ignore-scripts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(async () => out.includes('csp-desk is running') || npm!.exitCode !== null, 150_000);
    expect(out, out.slice(-2000)).to.contain('csp-desk is running');
    launcher = (JSON.parse(fs.readFileSync(path.join(dir, 'stack.lock'), 'utf8')) as { pid: number }).pid;

    // npm start again: refused by the lock check, before a build could touch dist/
    const again = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'prestart-check.cjs')], { cwd: ROOT, env, encoding: 'utf8' });
    expect(again.status, again.stderr).to.equal(1);
    expect(again.stderr).to.contain(`the stack is already running (pid ${launcher}`);

    npm.kill('SIGTERM');
    await waitFor(async () => !isAlive(launcher), 90_000);
    for (const [k, port] of Object.entries(ports)) expect(await isPortFree(Number(port)), `${k} ${port} still in use`).to.equal(true);
    expect(fs.existsSync(path.join(dir, 'stack.lock'))).to.equal(false);
    // with no stack running, the check lets the start go on
    expect(spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'prestart-check.cjs')], { cwd: ROOT, env }).status).to.equal(0);
  });
});
