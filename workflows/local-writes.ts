/**
 * Database writes that run as local activities first (workflows/activity-options.ts LOCAL_DATABASE_ACTIVITY):
 * a write still failing after its local attempts (the database down) goes on as a regular activity, retried by
 * the server without end and without adding to the history; a refusal (a non-retryable failure) is not tried
 * again. Used by the order's placement and by a support ticket's record at filing: writes that follow from the
 * workflow's input alone (a write that follows an Update is made once its task is committed, as a regular activity:
 * a task lost with its Updates would leave a local write behind for Updates it never committed).
 */
import { ApplicationFailure, CancelledFailure, TemporalFailure, log, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { DATABASE_ACTIVITY, LOCAL_DATABASE_ACTIVITY } from './activity-options';

export type Write = <T>(write: (a: Activities) => Promise<T>) => Promise<T>;

const regular = proxyActivities<Activities>(DATABASE_ACTIVITY);
const local = proxyLocalActivities<Activities>(LOCAL_DATABASE_ACTIVITY);

const isRefusal = (x: unknown) => x instanceof ApplicationFailure && x.nonRetryable;

/**
 * `useLocal` is the workflow's patch decision, taken once (a workflow started before its writes became local
 * keeps regular activities for its whole life); `about` goes into the log line of a fallback.
 */
export function databaseWrites(useLocal: boolean, about: Record<string, unknown>): Write {
  return async (write) => {
    if (!useLocal) return write(regular);
    try {
      return await write(local);
    } catch (e) {
      // a local activity's last failure comes as it is (not wrapped in an ActivityFailure)
      if (!(e instanceof TemporalFailure) || e instanceof CancelledFailure || isRefusal(e) || isRefusal(e.cause)) throw e;
      log.warn('a database write failed as a local activity; it goes on as a regular activity', { ...about, error: e.message });
      return write(regular);
    }
  };
}
