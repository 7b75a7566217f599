/**
 * Support metrics for a period, read from the tickets' events (the source of truth; the ticket documents are
 * their projection): the tickets filed in the period (their `filed` events, through the (type, at) index),
 * then every event of those tickets (the (ticketId, seq) index), in batches. The meaning is decided by
 * domain/support-metrics.ts.
 */
import { AppError } from '../lib/errors';
import { SupportEvent, type SupportEventDoc } from '../models';
import { IMPACTS, type Impact } from '../domain/sla';
import { timeZoneName } from '../domain/time';
import { checkPeriod, computeSupportMetrics, periodBounds, type MetricsTicket, type SupportMetrics } from '../domain/support-metrics';

/** Tickets whose events are read in one query. */
const BATCH = 500;

type EventRow = Pick<SupportEventDoc, 'ticketId' | 'seq' | 'type' | 'at' | 'actor' | 'public' | 'data'>;

/** The figures of the tickets filed from `from` to `to`, days of `zone` (any name timeZoneName accepts; default UTC). */
export async function supportMetrics(from: string, to: string, zone = 'UTC'): Promise<SupportMetrics & { generatedAt: string }> {
  const bad = checkPeriod(from, to, zone);
  if (bad) throw new AppError(400, 'validation_failed', bad.message, bad.field);
  const timeZone = timeZoneName(zone)!;
  const generatedAt = new Date().toISOString();
  const { start, end } = periodBounds(from, to, timeZone);
  const filed = await SupportEvent.find({ type: 'filed', at: { $gte: start, $lt: end } }, { ticketId: 1, data: 1 }).lean();
  const impactOf = new Map<string, Impact>();
  for (const f of filed) {
    const impact = (f.data ?? {}).impact as Impact;
    impactOf.set(f.ticketId, (IMPACTS as readonly string[]).includes(impact) ? impact : 'moderate');
  }
  const ids = [...impactOf.keys()];
  const tickets: MetricsTicket[] = [];
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const rows = await SupportEvent.find({ ticketId: { $in: batch } }, { _id: 0, ticketId: 1, seq: 1, type: 1, at: 1, actor: 1, public: 1, data: 1 }).lean<EventRow[]>();
    const byTicket = new Map<string, EventRow[]>(batch.map((id) => [id, []]));
    for (const r of rows) byTicket.get(r.ticketId)?.push(r);
    for (const [id, events] of byTicket) {
      tickets.push({ id, impact: impactOf.get(id)!, events: events.map((e) => ({ seq: e.seq, type: e.type, at: new Date(e.at), actor: e.actor, public: e.public, data: e.data ?? {} })) });
    }
  }
  return { ...computeSupportMetrics(tickets, from, to, timeZone), generatedAt };
}
