/**
 * Demo support requests (services/support-demo.ts), through the orders' and tickets' workflows: run by
 * `npm start` once the worker and the API are up (filing waits for the ticket's workflow to record the
 * ticket), after dist/bin/seed.js made the demo partner, users and customers. Idempotent: a second run files
 * nothing new. Prints one JSON line per ticket.
 */
import { loadConfigOrExit } from '../lib/config';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { connectClient } from '../lib/temporal';
import { AppError } from '../lib/errors';
import { loadSupportSettings } from '../services/support';
import { seedSupportDemo } from '../services/support-demo';
import { DEMO_CUSTOMERS, DEMO_PARTNER } from './seed';

async function main() {
  const config = loadConfigOrExit();
  const settings = loadSupportSettings(config);
  await connectDatabase(config.MONGODB_URI);
  const client = await connectClient(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE);
  try {
    const tickets = await seedSupportDemo({
      client,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      settings,
      reminderDaysBeforeClose: config.CANCELLATION_REMINDER_DAYS,
      partnerId: DEMO_PARTNER.id,
      customer: DEMO_CUSTOMERS[0].domain,
      users: { partnerAdmin: 'admin-agent@contoso-partners.example', agent: 'support-agent@csp-desk-support.example', lead: 'support-lead@csp-desk-support.example' },
    });
    for (const t of tickets) process.stdout.write(`${JSON.stringify(t)}\n`);
  } finally {
    await client.connection.close();
    await disconnectDatabase();
  }
}

if (require.main === module) {
  main().catch((e) => {
    // the stack for the log, then one line saying what went wrong (npm start quotes the last line)
    const refused = e instanceof AppError;
    process.stderr.write(`${(e as Error).stack ?? e}\nseed-tickets: ${(e as Error).message ?? e}${refused ? '' : '. Check that the worker is running and that dist/bin/seed.js ran first.'}\n`);
    process.exit(1);
  });
}
