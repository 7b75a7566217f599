/** The benchmark's yardstick: as many activities as an order's placement, each doing nothing. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { noop } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

export const PLACEMENT_ACTIVITIES = 4;

export async function skeletonWorkflow(): Promise<void> {
  for (let i = 0; i < PLACEMENT_ACTIVITIES; i++) await noop();
}
