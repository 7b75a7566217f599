/**
 * The composition root: the one place that wires the worker (activities, workflows, schedules) and the API
 * from their dependencies. `bin/`, the tests and the benchmark all build the service through it.
 */
import type { Client } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleDescriptionStartWorkflowAction } from '@temporalio/client';
import { msOptionalToNumber, type Duration } from '@temporalio/common';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type express from 'express';
import { heartbeatWhileRunning } from '../lib/keepalive';
import type { Logger } from '../lib/logger';
import { createRenderer, type Mailer, type Renderer } from '../lib/mailer';
import { createActivities, type Activities } from '../activities';
import { createApp, type AppDeps } from '../api/app';
export { createAppServer, keepAliveLimits, serveApp, stopServer } from '../api/server';
import { INVOICE_CLOSE_SCHEDULE_ID } from '../contracts/invoices';
import { HOUSEKEEPING_CRON, HOUSEKEEPING_SCHEDULE_ID, HOUSEKEEPING_WORKFLOW_ID } from '../contracts/system';

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
    workflowBundle: deps.workflowBundle ?? (await bundleWorkflows(WORKFLOWS_PATH, deps.log)),
    ...deps.tuning,
  });
}

/**
 * Bundles workflow code once, quietly (webpack's build report is not logged; its warnings and errors are, to `log`
 * when given), e.g. for tests that start many workers.
 */
export function bundleWorkflows(workflowsPath = WORKFLOWS_PATH, log?: Logger): Promise<{ code: string }> {
  const quiet = () => undefined;
  const warn = (message: string, meta?: Record<string, unknown>) => (log ? log.warn(meta ?? {}, message) : console.warn(message));
  const logger = {
    // the SDK passes webpack's whole report to info, its warnings included: only those are kept
    info: (message: string, meta?: Record<string, unknown>) => (/\bWARNING\b/.test(message) ? warn(message, meta) : undefined),
    debug: quiet,
    trace: quiet,
    log: quiet,
    warn,
    error: (message: string, meta?: Record<string, unknown>) => (log ? log.error(meta ?? {}, message) : console.error(message)),
  };
  return bundleWorkflowCode({ workflowsPath, logger: logger as never });
}

/** What the API needs: the same as api/app.ts declares (the composition root passes it through). */
export type ApiDeps = AppDeps;

export function createApi(deps: ApiDeps): express.Express {
  return createApp(deps);
}

interface ScheduledWorkflow {
  scheduleId: string;
  cron: string;
  workflowType: string;
  workflowId: string;
  args: unknown[];
  taskQueue: string;
  /** how long one run may take in all (a run left open holds up the next: the overlap policy skips) */
  workflowExecutionTimeout?: Duration;
}

/**
 * A Schedule that starts one workflow on a cron (UTC): created once, then kept in step with the caller's cron,
 * task queue, workflow and arguments at each worker start, and left alone when nothing changed. The server
 * describes a cron back as calendars, so the cron it was given is kept in the Schedule's note and compared; a
 * paused Schedule's note is its operator's (the pause reason), so there only the action is compared.
 */
async function ensureSchedule(client: Client, s: ScheduledWorkflow, log: Logger, what: string): Promise<void> {
  const spec = { cronExpressions: [s.cron] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: s.workflowType,
    taskQueue: s.taskQueue,
    args: s.args,
    workflowId: s.workflowId,
    ...(s.workflowExecutionTimeout ? { workflowExecutionTimeout: s.workflowExecutionTimeout } : {}),
  };
  const note = `cron ${s.cron}`;
  try {
    await client.schedule.create({ scheduleId: s.scheduleId, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' }, state: { note } });
    log.info({ scheduleId: s.scheduleId, cron: s.cron }, `${what} schedule created`);
  } catch (e) {
    if (!(e instanceof ScheduleAlreadyRunning)) throw e;
    const handle = client.schedule.getHandle(s.scheduleId);
    const current = await handle.describe();
    const a = current.action as ScheduleDescriptionStartWorkflowAction;
    const sameAction =
      current.action.type === 'startWorkflow' &&
      a.workflowType === s.workflowType &&
      a.workflowId === s.workflowId &&
      a.taskQueue === s.taskQueue &&
      JSON.stringify(a.args ?? []) === JSON.stringify(s.args) &&
      msOptionalToNumber(a.workflowExecutionTimeout) === msOptionalToNumber(s.workflowExecutionTimeout);
    const paused = current.state.paused;
    if (sameAction && (paused || current.state.note === note)) return;
    await handle.update((prev) => ({ ...prev, spec, action, state: paused ? prev.state : { ...prev.state, note } }));
    log.info({ scheduleId: s.scheduleId, cron: s.cron, taskQueue: s.taskQueue, paused }, `${what} schedule updated`);
  }
}

/** The monthly invoice close: created once, its cron kept in step with the configuration. */
export async function ensureInvoiceSchedule(client: Client, taskQueue: string, cron: string, log: Logger, scheduleId = INVOICE_CLOSE_SCHEDULE_ID): Promise<void> {
  await ensureSchedule(client, { scheduleId, cron, workflowType: 'closeInvoicesWorkflow', workflowId: 'invoice-close', args: [{}], taskQueue }, log, 'invoice');
}

/** The nightly housekeeping (workflows/system.ts). */
export async function ensureHousekeepingSchedule(client: Client, taskQueue: string, log: Logger, scheduleId = HOUSEKEEPING_SCHEDULE_ID): Promise<void> {
  await ensureSchedule(client, { scheduleId, cron: HOUSEKEEPING_CRON, workflowType: 'housekeepingWorkflow', workflowId: HOUSEKEEPING_WORKFLOW_ID, args: [], taskQueue, workflowExecutionTimeout: '6 hours' }, log, 'housekeeping');
}
