/**
 * The benchmark's workflow bundle: the production workflows plus its yardstick, a skeleton with as many
 * activities as an order's placement, each doing nothing. Kept out of the production bundle. The skeleton's
 * are regular activities, as issue 10 defines the yardstick; an order's three writes are local activities and
 * its email a regular one (README, Benchmark).
 */
import { proxyActivities, sleep } from '@temporalio/workflow';

export * from '../workflows';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export const PLACEMENT_ACTIVITIES = 4;

export async function skeletonWorkflow(): Promise<void> {
  for (let i = 0; i < PLACEMENT_ACTIVITIES; i++) await noop();
}

/** The yardstick of memory: a workflow held open on a timer, after one activity (an order waits on its window). */
export async function idleSkeletonWorkflow(): Promise<void> {
  await noop();
  await sleep('60 days');
}
