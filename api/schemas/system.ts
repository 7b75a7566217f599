/** Schemas of the system routes. */
import { nullable, obj, str } from './common';

const check = obj({ ok: { type: 'boolean' }, latencyMs: nullable({ type: 'number' }), error: str() }, ['ok', 'latencyMs']);
export const healthSchema = obj({ status: str({ enum: ['ok', 'degraded'] }), temporal: check, database: check, smtp: check });

