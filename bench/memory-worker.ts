/**
 * A worker of its own for the benchmark's memory measure (bench/memory.ts), run as a child process with
 * --expose-gc: the production activities plus the benchmark's noop, a workflow cache big enough to hold every
 * open workflow, and the benchmark's bundle. It answers `{ type: 'measure' }` with its memory after a full GC
 * and the noops it ran; `{ type: 'stop' }` shuts it down. Settings come from the environment (BENCH_MEM_*).
 */
import pino from 'pino';
import { createWorker, bundleWorkflows } from '../composition/root';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { createMailer } from '../lib/mailer';
import { NativeConnection, installRuntimeLogger } from '../lib/temporal';

export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
  noops: number;
}

export type MemoryWorkerMessage = { type: 'ready' } | { type: 'sample'; sample: MemorySample } | { type: 'failed'; error: string };

async function main(): Promise<void> {
  const env = process.env;
  const log = pino({ level: env.BENCH_LOG_LEVEL ?? 'info', base: { service: 'bench-memory-worker' } }, pino.destination({ dest: env.BENCH_MEM_LOG!, sync: false }));
  installRuntimeLogger(log.child({ component: 'sdk' }), 'WARN', 'WARN');
  await connectDatabase(env.MONGODB_URI!, { syncIndexes: false });
  const mailer = createMailer(env.SMTP_URL!, 'csp-desk bench <no-reply@csp-desk.bench>');
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
  let noops = 0;
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: env.BENCH_MEM_TASK_QUEUE!,
    mailer,
    log: log.child({ component: 'activities' }),
    publicBaseUrl: 'http://csp-desk.bench',
    workflowBundle: await bundleWorkflows(require.resolve('./workflows')),
    extraActivities: {
      noop: async () => {
        noops++;
      },
    },
    // workflows in this thread (not a workflow thread), so that the GC before each sample reaches their heap
    tuning: { maxCachedWorkflows: Number(env.BENCH_MEM_CACHE), debugMode: true },
  });
  const send = (m: MemoryWorkerMessage) => process.send?.(m);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') worker.shutdown();
    if (m.type === 'measure') {
      void (async () => {
        const gc = (globalThis as { gc?: () => void }).gc;
        for (let i = 0; i < 3; i++) {
          gc?.();
          await new Promise((r) => setTimeout(r, 200));
        }
        const u = process.memoryUsage();
        send({ type: 'sample', sample: { rss: u.rss, heapUsed: u.heapUsed, external: u.external, noops } });
      })();
    }
  });
  const running = worker.run();
  send({ type: 'ready' });
  await running;
  await connection.close();
  mailer.close();
  await disconnectDatabase();
  process.exit(0);
}

main().catch((e: unknown) => {
  process.send?.({ type: 'failed', error: (e as Error).stack ?? String(e) });
  process.exit(1);
});
