/** Temporal client, worker and schedule wiring shared by the processes, the tests and the benchmark. */
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';
import { INVOICE_CLOSE_SCHEDULE_ID } from '../contracts/invoices';
import type { Activities } from '../activities';

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address, connectTimeout: '10s' });
  return new Client({ connection, namespace });
}

/** Sends the SDK's own logs (workflow `log`, worker lifecycle) through pino as JSON lines. */
export function installRuntimeLogger(log: Logger, level: LogLevel = 'INFO', coreLevel: LogLevel = 'WARN'): void {
  Runtime.install({
    // the SDK core's own (Rust) logs are forwarded too, at `coreLevel` and above
    telemetryOptions: { logging: { filter: { core: coreLevel, other: 'ERROR' }, forward: {} } },
    logger: new DefaultLogger(level, (entry) => {
      const fields = { ...(entry.meta ?? {}), sdk: true };
      const msg = entry.message;
      if (entry.level === 'ERROR') log.error(fields, msg);
      else if (entry.level === 'WARN') log.warn(fields, msg);
      else if (entry.level === 'DEBUG' || entry.level === 'TRACE') log.debug(fields, msg);
      else log.info(fields, msg);
    }),
  });
}

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  /** a prebuilt bundle (tests build it once); default: bundle workflows/ now */
  workflowBundle?: { code: string };
}

export async function createAppWorker(o: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    activities: o.activities,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
  });
}

/** The monthly invoice close: created once, its cron kept in step with the configuration. */
export async function ensureInvoiceSchedule(client: Client, taskQueue: string, cron: string, log: Logger, scheduleId = INVOICE_CLOSE_SCHEDULE_ID): Promise<void> {
  const spec = { cronExpressions: [cron] };
  const action = { type: 'startWorkflow' as const, workflowType: 'closeInvoicesWorkflow', taskQueue, args: [{}], workflowId: 'invoice-close' };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' } });
    log.info({ scheduleId, cron }, 'invoice schedule created');
  } catch (e) {
    if (!(e instanceof ScheduleAlreadyRunning)) throw e;
    const handle = client.schedule.getHandle(scheduleId);
    const current = await handle.describe();
    const currentCron = (current.spec as { cronExpressions?: string[] }).cronExpressions;
    if (currentCron?.[0] !== cron) {
      await handle.update((prev) => ({ ...prev, spec, action }));
      log.info({ scheduleId, cron }, 'invoice schedule updated');
    }
  }
}

export { NativeConnection };
