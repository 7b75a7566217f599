/**
 * The nightly housekeeping (started by its Schedule, composition/root.ts ensureHousekeepingSchedule): deletes what
 * can no longer do anything, since FerretDB 1.24 has no TTL indexes to do it. Each domain's part is an activity
 * of its own (idempotent deletes by cutoff), so one failing does not hold up the other:
 * - sign-in links, claims, email slots and sessions a week after they stopped mattering (domain/sessions.ts);
 * - attachment files no attachment points to, a day after their upload (domain/support.ts).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SignInPruneResult } from '../activities/sessions';
import { DATABASE_ACTIVITY } from './activity-options';

const acts = proxyActivities<Activities>({ ...DATABASE_ACTIVITY, startToCloseTimeout: '2 minutes' });

export interface HousekeepingResult {
  signIn: SignInPruneResult;
  orphanAttachmentFiles: number;
}

export async function housekeepingWorkflow(): Promise<HousekeepingResult> {
  const now = new Date(Date.now()).toISOString();
  const [signIn, orphanAttachmentFiles] = await Promise.all([acts.pruneSignInRecords(now), acts.pruneOrphanAttachmentFiles(now)]);
  return { signIn, orphanAttachmentFiles };
}
