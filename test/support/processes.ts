/**
 * The service's own entry points (dist/bin/worker.js, dist/bin/api.js) as real child processes on the test
 * stack's servers, for tests that kill a worker or run several of each. Each child logs to
 * `<stack dataDir>/logs/<name>.log`; every child still running is killed when the test process exits.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../stack/ports';
import { spawnManaged, waitUntil, type ManagedProcess } from '../../stack/process';
import type { TestStack } from './stack';

const BIN = path.resolve(__dirname, '..', '..', 'bin');

export interface ServiceProcess {
  name: string;
  proc: ManagedProcess;
  /** the API's base URL (APIs only) */
  url?: string;
  /** SIGKILL: the process dies at once, whatever it was doing */
  kill(): Promise<void>;
  /** SIGTERM, and waits for it to exit */
  stop(): Promise<void>;
  /** what it logged so far */
  log(): string;
}

export interface ServiceEnv {
  taskQueue: string;
  /** default: the test stack's mail catcher */
  smtpUrl?: string;
  /** default: the test stack's database */
  mongoUri?: string;
  extra?: NodeJS.ProcessEnv;
}

function envFor(stack: TestStack, opts: ServiceEnv): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    MONGODB_URI: opts.mongoUri ?? stack.mongoUri,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: opts.taskQueue,
    SMTP_URL: opts.smtpUrl ?? stack.smtpUrl,
    MAIL_FROM: 'csp-desk test <no-reply@csp-desk.test>',
    PUBLIC_BASE_URL: 'http://csp-desk.test',
    LOG_LEVEL: 'info',
    // the suite files many requests as one user within an hour (test/support/app.ts TEST_SUPPORT_SETTINGS)
    SUPPORT_FILINGS_PER_HOUR: '100000',
    ...opts.extra,
  };
}

function wrap(name: string, proc: ManagedProcess, url?: string): ServiceProcess {
  return {
    name,
    proc,
    url,
    async kill() {
      if (proc.running) process.kill(proc.pid, 'SIGKILL');
      await proc.exited;
    },
    async stop() {
      await proc.stop(15_000);
    },
    log: () => (proc.logFile && fs.existsSync(proc.logFile) ? fs.readFileSync(proc.logFile, 'utf8') : ''),
  };
}

/** Starts dist/bin/worker.js; resolves once it polls its task queue. */
export async function startWorkerProcess(stack: TestStack, name: string, opts: ServiceEnv): Promise<ServiceProcess> {
  const logFile = path.join(stack.dataDir, 'logs', `${name}.log`);
  const proc = spawnManaged({ name, command: process.execPath, args: [path.join(BIN, 'worker.js')], env: envFor(stack, opts), logFile, parentDeathSignal: 'SIGKILL' });
  const w = wrap(name, proc);
  await waitUntil(`${name} to start`, async () => {
    if (!proc.running) throw new Error(`${name} exited:\n${proc.tail(20)}`);
    return /"msg":"worker started"/.test(proc.tail(50));
  }, { timeoutMs: 60_000, intervalMs: 100 });
  return w;
}

/** Starts dist/bin/api.js on a free port; resolves once GET /health answers 200. */
export async function startApiProcess(stack: TestStack, name: string, opts: ServiceEnv): Promise<ServiceProcess> {
  const port = await freePort();
  const logFile = path.join(stack.dataDir, 'logs', `${name}.log`);
  const env = envFor(stack, { ...opts, extra: { HOST: '127.0.0.1', PORT: String(port), ...opts.extra } });
  const proc = spawnManaged({ name, command: process.execPath, args: [path.join(BIN, 'api.js')], env, logFile, parentDeathSignal: 'SIGKILL' });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(`${name} to answer /health`, async () => {
    if (!proc.running) throw new Error(`${name} exited:\n${proc.tail(20)}`);
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  }, { timeoutMs: 60_000, intervalMs: 200 });
  return wrap(name, proc, url);
}

/**
 * An SMTP server that accepts connections and never greets: a send to it hangs until nodemailer's greeting
 * timeout. `connections` counts the connections it took.
 */
export async function startStallingSmtp(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
