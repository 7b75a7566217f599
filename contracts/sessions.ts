/** The sign-in housekeeping's contract: its schedule and workflow ids. */
export const SESSION_HOUSEKEEPING_SCHEDULE_ID = 'sign-in-housekeeping';
export const SESSION_HOUSEKEEPING_WORKFLOW_ID = 'sign-in-housekeeping';
/** Every night at 03:17 UTC (a quiet hour, off the hour that other jobs pick). */
export const SESSION_HOUSEKEEPING_CRON = '17 3 * * *';
