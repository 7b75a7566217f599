/**
 * The nightly sign-in housekeeping (started by its Schedule, composition/root.ts ensureSessionHousekeepingSchedule):
 * deletes sign-in links, claims, email slots and sessions a week after they stopped mattering
 * (domain/sessions.ts), since FerretDB 1.24 has no TTL indexes to do it.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SignInPruneResult } from '../activities/sessions';
import { DATABASE_ACTIVITY } from './activity-options';

const acts = proxyActivities<Activities>({ ...DATABASE_ACTIVITY, startToCloseTimeout: '1 minute' });

export async function sessionHousekeepingWorkflow(): Promise<SignInPruneResult> {
  return acts.pruneSignInRecords(new Date(Date.now()).toISOString());
}
