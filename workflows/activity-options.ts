/**
 * How long each kind of activity may take, so that an attempt lost with its worker (a crash, a kill, a
 * machine gone) is retried on another worker within seconds, not after a minute:
 * - database activities do a few round trips (milliseconds each): a few seconds to close;
 * - email activities wait on an SMTP server, bounded by nodemailer's own connection, greeting and socket
 *   timeouts (lib/mailer.ts, each well below the activity's), and heartbeat while they run (the worker's
 *   keep-alive interceptor, composition/root.ts), so a dead worker is noticed after the heartbeat timeout.
 * A retry is safe: every activity is idempotent (natural-key facts, one email per business key).
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

const retry: ActivityOptions['retry'] = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' };

/** Activities that only read and write the database. */
export const DATABASE_ACTIVITY: ActivityOptions = { startToCloseTimeout: '5 seconds', retry };

/**
 * An order's placement and a support ticket's record at filing run as local activities (workflows/local-writes.ts): in the
 * worker that runs the workflow task, recorded in the history as a marker, without a round trip through the
 * server's activity task queue. For writes of a few milliseconds this saves most of Temporal's work per write
 * (each regular activity costs the server a schedule, a dispatch, a completion and one more workflow task). An
 * attempt lost with its worker is retried by the next worker to take the workflow task, after the workflow task
 * timeout (5 s for those workflows: lib/temporal.ts WORKFLOW_TASK_TIMEOUT).
 *
 * While a local activity retries, its workflow task heartbeats (a few history events every 4 s). So it has five
 * attempts (1, 2, 4 and 8 s apart, about 15 s in all); a write still failing then goes on as a regular activity
 * (DATABASE_ACTIVITY, retried by the server without end and without history events: workflows/local-writes.ts).
 */
export const LOCAL_DATABASE_ACTIVITY: LocalActivityOptions = { startToCloseTimeout: '5 seconds', retry: { ...retry, maximumAttempts: 5 } };

/** Activities that send an email (and record it). */
export const EMAIL_ACTIVITY: ActivityOptions = { startToCloseTimeout: '30 seconds', heartbeatTimeout: '4 seconds', retry };

/** A month's close: reads every line of a partner's month, then emails the invoice. */
export const INVOICE_CLOSE_ACTIVITY: ActivityOptions = { startToCloseTimeout: '2 minutes', heartbeatTimeout: '4 seconds', retry };
