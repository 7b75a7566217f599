/**
 * The composition root: the one place that wires the worker (activities, workflows, schedules) and the API
 * from their dependencies. `bin/`, the tests and the benchmark all build the service through it.
 */
import type { Client } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type express from 'express';
import { heartbeatWhileRunning } from '../lib/keepalive';
import type { Logger } from '../lib/logger';
import { createRenderer, type Mailer, type Renderer } from '../lib/mailer';
import { createActivities, type Activities } from '../activities';
import { createApp, type AppDeps } from '../api/app';
import { INVOICE_CLOSE_SCHEDULE_ID } from '../contracts/invoices';

/** How long a workflow task waits for the worker that holds the workflow in its cache before any worker takes it. */
export const STICKY_TIMEOUT = '3 seconds';

/** The production workflows (the benchmark passes a bundle of its own). */
export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  mailer: Mailer;
  log: Logger;
  publicBaseUrl: string;
  renderer?: Renderer;
  /** a prebuilt bundle (tests build it once); default: bundle workflows/ now */
  workflowBundle?: { code: string };
  /** activities beyond the production ones (the benchmark's no-op) */
  extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
  /** worker settings beyond the defaults (the benchmark's memory measure sizes the workflow cache) */
  tuning?: Pick<WorkerOptions, 'maxCachedWorkflows' | 'debugMode'>;
}

export function buildActivities(deps: Pick<WorkerDeps, 'mailer' | 'log' | 'publicBaseUrl' | 'renderer'>): Activities {
  return createActivities({ mailer: deps.mailer, renderer: deps.renderer ?? createRenderer(), log: deps.log, publicBaseUrl: deps.publicBaseUrl });
}

export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    activities: { ...buildActivities(deps), ...(deps.extraActivities ?? {}) },
    // activities with a heartbeat timeout heartbeat while they run (a lost attempt is retried within seconds)
    interceptors: { activity: [heartbeatWhileRunning] },
    // a workflow cached on a worker that died moves to another after this long (the default is 10 s)
    stickyQueueScheduleToStartTimeout: STICKY_TIMEOUT,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    ...deps.tuning,
  });
}

/** Bundles workflow code once (quietly), e.g. for tests that start many workers. */
export function bundleWorkflows(workflowsPath = WORKFLOWS_PATH): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath, logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } as never });
}

/** What the API needs: the same as api/app.ts declares (the composition root passes it through). */
export type ApiDeps = AppDeps;

export function createApi(deps: ApiDeps): express.Express {
  return createApp(deps);
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
