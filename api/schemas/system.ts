/** Schemas of the system routes. */
import { nullable, obj, str } from './common';

const check = obj({ ok: { type: 'boolean' }, latencyMs: nullable({ type: 'number' }), error: str() }, ['ok', 'latencyMs']);
export const healthSchema = obj({ status: str({ enum: ['ok', 'degraded', 'unavailable'], description: 'ok; degraded: serving, emails delayed (SMTP unreachable); unavailable: not serving (Temporal or the database unreachable), with a 503' }), temporal: check, database: check, smtp: check });

