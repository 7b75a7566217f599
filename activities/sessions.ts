/**
 * Sign-in housekeeping (part of the nightly housekeeping, workflows/system.ts): deletes the sign-in records that can no longer do anything (domain/sessions.ts says
 * which, and how long they are kept first). A delete by cutoff is idempotent: a retry, or a second run, deletes
 * what is left and nothing else. None of these documents has a writer any more by then (a link past its expiry
 * is refused before anything is written; a session past its end is never touched), so nothing races the delete.
 */
import { Session, SessionEnd, SignInClaim, SignInLink, SignInSend } from '../models';
import { signInPruneCutoffs } from '../domain/sessions';
import type { ActivityDeps } from './shared';

export interface SignInPruneResult {
  links: number;
  claims: number;
  sends: number;
  sessions: number;
  sessionEnds: number;
}

export function createSessionActivities(deps: ActivityDeps) {
  return {
    /** Deletes the sign-in records the housekeeping run at `nowIso` may delete; returns how many of each. */
    async pruneSignInRecords(nowIso: string): Promise<SignInPruneResult> {
      const c = signInPruneCutoffs(new Date(nowIso));
      const [links, claims, sends, sessions, sessionEnds] = await Promise.all([
        SignInLink.deleteMany({ expiresAt: { $lt: c.linksExpiredBefore } }),
        SignInClaim.deleteMany({ claimedAt: { $lt: c.claimsBefore } }),
        SignInSend.deleteMany({ at: { $lt: c.sendsBefore } }),
        Session.deleteMany({ expiresAt: { $lt: c.sessionsExpiredBefore } }),
        SessionEnd.deleteMany({ at: { $lt: c.sessionEndsBefore } }),
      ]);
      const result = { links: links.deletedCount, claims: claims.deletedCount, sends: sends.deletedCount, sessions: sessions.deletedCount, sessionEnds: sessionEnds.deletedCount };
      deps.log.info({ ...result, at: nowIso }, 'sign-in records pruned');
      return result;
    },
  };
}
