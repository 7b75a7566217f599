/** The nightly housekeeping's contract: its schedule, workflow id and time. */
export const HOUSEKEEPING_SCHEDULE_ID = 'nightly-housekeeping';
export const HOUSEKEEPING_WORKFLOW_ID = 'nightly-housekeeping';
/** Every night at 03:17 UTC (a quiet hour, off the minutes other jobs pick). */
export const HOUSEKEEPING_CRON = '17 3 * * *';
