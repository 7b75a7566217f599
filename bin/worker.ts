/** The Temporal worker: every domain's workflows and activities, and the Schedules that start some of them. */
import { loadConfigOrExit } from '../lib/config';
import { startFailure } from '../lib/errors';
import { createLogger } from '../lib/logger';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { createMailer } from '../lib/mailer';
import { connectClient, installRuntimeLogger, NamespaceMissingError, NativeConnection } from '../lib/temporal';
import { createWorker, ensureInvoiceSchedule, ensureHousekeepingSchedule } from '../composition/root';
import { backfillQueueEntries } from '../activities/support';

async function main() {
  const config = loadConfigOrExit();
  const log = createLogger('worker', config.LOG_LEVEL);
  // LOG_LEVEL=debug (or trace) also forwards the Temporal SDK's own debug lines
  installRuntimeLogger(log, config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? 'DEBUG' : 'INFO');
  await connectDatabase(config.MONGODB_URI);
  const mailer = createMailer(config.SMTP_URL, config.MAIL_FROM);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = await connectClient(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE);
  await ensureInvoiceSchedule(client, config.TEMPORAL_TASK_QUEUE, config.INVOICE_CLOSE_CRON, log);
  await ensureHousekeepingSchedule(client, config.TEMPORAL_TASK_QUEUE, log);
  const worker = await createWorker({ connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, mailer, log: log.child({ component: 'activities' }), publicBaseUrl: config.PUBLIC_BASE_URL });
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, temporal: config.TEMPORAL_ADDRESS }, 'worker started');
  // support tickets filed before the queue had its entries get theirs (in the background; idempotent)
  backfillQueueEntries().then(
    (count) => count && log.info({ count }, 'support queue entries backfilled'),
    (e: unknown) => log.warn({ err: e }, 'support queue backfill failed; it runs again at the next start'),
  );
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => worker.shutdown());
  await worker.run();
  await connection.close();
  await client.connection.close();
  mailer.close();
  await disconnectDatabase();
  log.info('worker stopped');
}

main().catch((e) => {
  // a namespace that does not exist is a setting to fix: said alone, exit 2 as for any configuration error
  if (e instanceof NamespaceMissingError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`worker: ${startFailure(e)}\nCheck that Temporal (TEMPORAL_ADDRESS), the database (MONGODB_URI) and SMTP (SMTP_URL) are reachable.\n`);
  process.exit(1);
});
