/**
 * Activities that may wait on another server (SMTP) heartbeat while they run, so that Temporal notices an
 * attempt lost with its worker after the activity's heartbeat timeout (seconds) and retries it elsewhere,
 * instead of waiting for its start-to-close timeout. The activities themselves need not know: this worker
 * interceptor heartbeats for every activity scheduled with a heartbeat timeout, from the moment it has run
 * a third of that timeout (the many short activities never send one).
 */
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

export const heartbeatWhileRunning: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      const timeoutMs = ctx.info.heartbeatTimeoutMs;
      if (!timeoutMs) return next(input);
      const timer = setInterval(() => ctx.heartbeat(), Math.max(100, Math.floor(timeoutMs / 3)));
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
