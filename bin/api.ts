/** The HTTP API. */
import { loadConfigOrExit } from '../lib/config';
import { startFailure } from '../lib/errors';
import { createLogger } from '../lib/logger';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { createMailer } from '../lib/mailer';
import { connectClient, NamespaceMissingError } from '../lib/temporal';
import { createApi, createAppServer, keepAliveLimits, stopServer } from '../composition/root';
import { loadSupportSettings } from '../services/support';

async function main() {
  const config = loadConfigOrExit();
  const log = createLogger('api', config.LOG_LEVEL);
  let support;
  try {
    support = loadSupportSettings(config);
  } catch (e) {
    process.stderr.write(`configuration: ${(e as Error).message}\n`);
    process.exit(2);
  }
  await connectDatabase(config.MONGODB_URI, { timeouts: 'api' });
  const client = await connectClient(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE, { failFast: true });
  const mailer = createMailer(config.SMTP_URL, config.MAIL_FROM);
  const app = createApi({
    client,
    mailer,
    log,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    reminderDaysBeforeClose: config.CANCELLATION_REMINDER_DAYS,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    temporalUiUrl: config.TEMPORAL_UI_URL || undefined,
    temporalNamespace: config.TEMPORAL_NAMESPACE,
    support,
    attachmentLimits: { maxBytes: config.ATTACHMENT_MAX_BYTES, maxPerTicket: config.ATTACHMENT_MAX_PER_TICKET },
  });
  const server = createAppServer(app, { log, limits: keepAliveLimits(config.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS) });
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') process.stderr.write(`api: port ${config.PORT} is already in use: stop the process using it or set PORT\n`);
    else process.stderr.write(`api: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(config.PORT, config.HOST, () => log.info({ url: `http://${config.HOST}:${config.PORT}` }, 'api listening'));
  const stop = async () => {
    log.info('api stopping');
    // requests under way get 5 s to finish (their connections close after them), then the rest are cut
    const { forced } = await stopServer(server, 5000);
    if (forced) log.warn('api stopping: connections still busy after 5 s were closed');
    setTimeout(() => process.exit(0), 5000).unref();
    await client.connection.close();
    mailer.close();
    await disconnectDatabase();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e) => {
  // a namespace that does not exist is a setting to fix: said alone, exit 2 as for any configuration error
  if (e instanceof NamespaceMissingError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`api: ${startFailure(e)}\nCheck that Temporal (TEMPORAL_ADDRESS) and the database (MONGODB_URI) are reachable.\n`);
  process.exit(1);
});
