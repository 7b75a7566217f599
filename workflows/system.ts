/**
 * The nightly housekeeping (started by its Schedule, composition/root.ts ensureHousekeepingSchedule): deletes what
 * can no longer do anything, since FerretDB 1.24 has no TTL indexes to do it. Each domain's part is an activity
 * of its own (idempotent deletes by cutoff), run side by side; each has a few attempts, so that a part that keeps
 * failing ends the run (failed, with its reason, in the Temporal Web UI) instead of holding it open, and with it
 * every later night (the Schedule skips a run while the last one is open):
 * - sign-in links, claims, email slots and sessions a week after they stopped mattering (domain/sessions.ts);
 * - attachment files no attachment points to, a day after their upload (domain/support.ts);
 * - support actions' Idempotency-Keys after 30 days (domain/support.ts);
 * - a download link's Idempotency-Key, counted downloads and resumes 30 days after it expired (domain/licensing.ts).
 * It also writes the activity-log entries of the last two days' download slots whose requests died before writing
 * them (a later download of the link does so too, but a link may never be downloaded again).
 */
import { ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DownloadRecordsPruneResult } from '../activities/licensing';
import type { SignInPruneResult } from '../activities/sessions';
import { DATABASE_ACTIVITY } from './activity-options';

/** Patch id: the download parts (a run begun by an older worker replays without them, and does neither). */
const DOWNLOAD_PARTS = 'housekeeping-download-parts';

const acts = proxyActivities<Activities>({ ...DATABASE_ACTIVITY, startToCloseTimeout: '5 minutes', retry: { ...DATABASE_ACTIVITY.retry, maximumAttempts: 5 } });

export interface HousekeepingResult {
  signIn: SignInPruneResult;
  orphanAttachmentFiles: number;
  supportActionKeys: number;
  /** null: a run begun by a worker without this part */
  downloadRecords: DownloadRecordsPruneResult | null;
  /** the log entries written of download slots whose requests died; null: a run begun by a worker without this part */
  interruptedDownloads: number | null;
}

export async function housekeepingWorkflow(): Promise<HousekeepingResult> {
  const now = new Date(Date.now()).toISOString();
  const downloadParts = patched(DOWNLOAD_PARTS);
  const [signIn, files, keys, downloads, interrupted] = await Promise.allSettled([
    acts.pruneSignInRecords(now),
    acts.pruneOrphanAttachmentFiles(now),
    acts.pruneSupportActionKeys(now),
    downloadParts ? acts.pruneDownloadRecords(now) : Promise.resolve(null),
    downloadParts ? acts.logInterruptedDownloads(now) : Promise.resolve(null),
  ]);
  const failed = [
    signIn.status === 'rejected' ? `sign-in records: ${(signIn.reason as Error).message}` : null,
    files.status === 'rejected' ? `attachment files: ${(files.reason as Error).message}` : null,
    keys.status === 'rejected' ? `support action keys: ${(keys.reason as Error).message}` : null,
    downloads.status === 'rejected' ? `download records: ${(downloads.reason as Error).message}` : null,
    interrupted.status === 'rejected' ? `interrupted downloads: ${(interrupted.reason as Error).message}` : null,
  ].filter((x): x is string => x !== null);
  // the other parts' work is done either way; the run fails naming what did not, and the next night tries again
  if (failed.length) throw ApplicationFailure.nonRetryable(`housekeeping did not finish: ${failed.join('; ')}`, 'housekeeping_failed');
  return {
    signIn: (signIn as PromiseFulfilledResult<SignInPruneResult>).value,
    orphanAttachmentFiles: (files as PromiseFulfilledResult<number>).value,
    supportActionKeys: (keys as PromiseFulfilledResult<number>).value,
    downloadRecords: (downloads as PromiseFulfilledResult<DownloadRecordsPruneResult | null>).value,
    interruptedDownloads: (interrupted as PromiseFulfilledResult<number | null>).value,
  };
}
