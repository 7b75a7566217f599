/**
 * Support metrics from the tickets' events, the source of truth (the ticket document is a projection): per
 * impact and per agent, how many tickets, the share of first responses and of resolutions within target, the
 * median times, the escalations. Pure: the service reads the events, this decides what they mean.
 *
 * Definitions (README "Support metrics"):
 * - The cohort is the tickets *filed* in the period; each is followed through all its events so far.
 * - A first response is the first public message of a support user: a reply, a request for information, or a
 *   decision the partner is told of (approved, rejected, resolved, or closed by support), as the ticket's own
 *   first-response clock counts it.
 *   It is within target unless the ticket's first-response breach was recorded before it; a ticket the partner
 *   withdrew before either is withdrawn, and one still waiting is pending (both in no share).
 * - A ticket is resolved when its last resolving event (resolved, approved, rejected, or closed by support
 *   while active) is not followed by a reopening. Its resolution is within target unless a resolution
 *   breach was recorded at any time; an unresolved ticket without a breach is pending; a ticket the partner
 *   withdrew is counted as withdrawn, in no share.
 * - Times are calendar seconds from filing (the SLA clocks count business hours and pauses; the breach
 *   events carry their verdict, so the shares follow the clocks exactly).
 * - Escalations: every `escalated` event (timers and by hand).
 * - Per agent: a ticket counts for its assignee at its latest event (unassigned tickets under `agent: null`).
 * - The period's days are days of a time zone (UTC unless the reader names another): a ticket filed at 23:30
 *   in Sydney is in that Sydney day, whatever the UTC date.
 */
import { IMPACTS, type Impact } from './sla';
import { DAY_MS, FIRST_DAY, startOfLocalDay, timeZoneName } from './time';

export interface MetricsActor {
  kind: string;
  userId: string;
  name: string;
}

/** The part of a ticket event the metrics read (models/support.ts SupportEventDoc has it all). */
export interface MetricsEvent {
  seq: number;
  type: string;
  at: Date;
  actor: MetricsActor;
  public: boolean;
  data: Record<string, unknown>;
}

export interface MetricsTicket {
  id: string;
  impact: Impact;
  /** every event of the ticket (any order: sorted by seq here) */
  events: MetricsEvent[];
}

export type TargetOutcome = 'met' | 'missed' | 'pending';

export interface TicketOutcome {
  id: string;
  impact: Impact;
  filedAt: Date;
  assignee: { userId: string; name: string } | null;
  firstResponse: { outcome: TargetOutcome | 'withdrawn'; seconds: number | null; by: string | null };
  resolution: { outcome: TargetOutcome | 'withdrawn'; seconds: number | null };
  escalations: number;
}

export interface TargetStats {
  met: number;
  missed: number;
  pending: number;
  /** met / (met + missed), 4 decimals; null when neither */
  withinTargetShare: number | null;
  /** of the tickets that had one: calendar seconds from filing */
  medianSeconds: number | null;
}

export interface MetricsGroup {
  tickets: number;
  firstResponse: TargetStats & { withdrawn: number };
  resolution: TargetStats & { withdrawn: number };
  escalations: number;
  escalatedTickets: number;
}

export interface SupportMetrics {
  from: string;
  to: string;
  /** the zone whose days `from` and `to` are, as ICU names it */
  timeZone: string;
  total: MetricsGroup;
  byImpact: Record<Impact, MetricsGroup>;
  byAgent: ({ agent: { userId: string; name: string } | null } & MetricsGroup)[];
}

const SUPPORT_KINDS = new Set(['agent', 'lead']);
/** public messages of support that answer the partner */
const RESPONSE_TYPES = new Set(['replied', 'information-requested', 'approved', 'rejected', 'resolved', 'closed']);
/** events after which the ticket is done, when support takes them */
const RESOLVING_TYPES = new Set(['resolved', 'approved', 'rejected']);

/** Which target a breach event is about: `data.clock` (the clock's kind, as the ticket workflow records it). */
export function breachTarget(e: MetricsEvent): string | null {
  const clock = (e.data ?? {}).clock;
  return typeof clock === 'string' ? clock : null;
}

/** The assignee an `assigned` event names (`data.assignee`), if any. */
function assigneeOf(e: MetricsEvent): { userId: string; name: string } | null {
  const a = (e.data ?? {}).assignee as { userId?: unknown; name?: unknown } | undefined;
  return a && typeof a.userId === 'string' ? { userId: a.userId, name: typeof a.name === 'string' ? a.name : a.userId } : null;
}

const seconds = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));

/** What one ticket's events say about its targets. */
export function ticketOutcome(t: MetricsTicket): TicketOutcome {
  const events = [...t.events].sort((a, b) => a.seq - b.seq);
  const filed = events.find((e) => e.type === 'filed') ?? events[0];
  const filedAt = filed ? new Date(filed.at) : new Date(NaN);
  let assignee: TicketOutcome['assignee'] = null;
  let firstResponse: { at: Date; by: string } | null = null;
  let firstResponseBreached = false;
  let resolutionBreached = false;
  let resolvedAt: Date | null = null;
  let withdrawn = false;
  let firstResponseWithdrawn = false;
  let escalations = 0;
  for (const e of events) {
    const support = SUPPORT_KINDS.has(e.actor?.kind);
    // an agent's answer that took a request nobody had (`data.took`: a reply to a new request, asking for
    // information, a decision; the ticket's workflow made them its assignee, without an "assigned" event) counts it
    // for them; answers recorded before that flag do not
    if (e.data?.took === true && support && e.actor.userId && RESPONSE_TYPES.has(e.type)) assignee = { userId: e.actor.userId, name: e.actor.name ?? e.actor.userId };
    switch (e.type) {
      case 'assigned':
        assignee = assigneeOf(e) ?? assignee;
        break;
      case 'unassigned':
        assignee = null;
        break;
      case 'sla-breached': {
        const target = breachTarget(e);
        if (target === 'firstResponse' && !firstResponse) firstResponseBreached = true;
        if (target === 'resolution') resolutionBreached = true;
        break;
      }
      case 'escalated':
        escalations++;
        break;
      case 'reopened':
        resolvedAt = null;
        break;
      case 'withdrawn':
        withdrawn = true;
        if (!firstResponse && !firstResponseBreached) firstResponseWithdrawn = true;
        break;
      case 'closed':
        // support closing a ticket still being worked ends it like a resolution
        if (support && !resolvedAt && !withdrawn) resolvedAt = new Date(e.at);
        break;
      default:
        break;
    }
    if (RESPONSE_TYPES.has(e.type) && support && e.public && !firstResponse) firstResponse = { at: new Date(e.at), by: e.actor.userId };
    if (RESOLVING_TYPES.has(e.type) && support) resolvedAt = new Date(e.at);
  }
  return {
    id: t.id,
    impact: t.impact,
    filedAt,
    assignee,
    firstResponse: {
      outcome: firstResponseBreached ? 'missed' : firstResponse ? 'met' : firstResponseWithdrawn ? 'withdrawn' : 'pending',
      seconds: firstResponse ? seconds(filedAt, firstResponse.at) : null,
      by: firstResponse?.by ?? null,
    },
    resolution: {
      outcome: resolutionBreached ? 'missed' : resolvedAt ? 'met' : withdrawn ? 'withdrawn' : 'pending',
      seconds: resolvedAt ? seconds(filedAt, resolvedAt) : null,
    },
    escalations,
  };
}

/** The middle value (the mean of the two middle ones, rounded, for an even count); null for none. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2);
}

const share = (met: number, missed: number) => (met + missed === 0 ? null : Math.round((met / (met + missed)) * 10_000) / 10_000);

function targetStats(outcomes: { outcome: string; seconds: number | null }[]): TargetStats {
  const met = outcomes.filter((o) => o.outcome === 'met').length;
  const missed = outcomes.filter((o) => o.outcome === 'missed').length;
  const pending = outcomes.filter((o) => o.outcome === 'pending').length;
  return { met, missed, pending, withinTargetShare: share(met, missed), medianSeconds: median(outcomes.flatMap((o) => (o.seconds === null ? [] : [o.seconds]))) };
}

export function groupMetrics(outcomes: TicketOutcome[]): MetricsGroup {
  return {
    tickets: outcomes.length,
    firstResponse: { ...targetStats(outcomes.map((o) => o.firstResponse)), withdrawn: outcomes.filter((o) => o.firstResponse.outcome === 'withdrawn').length },
    resolution: { ...targetStats(outcomes.map((o) => o.resolution)), withdrawn: outcomes.filter((o) => o.resolution.outcome === 'withdrawn').length },
    escalations: outcomes.reduce((n, o) => n + o.escalations, 0),
    escalatedTickets: outcomes.filter((o) => o.escalations > 0).length,
  };
}

/**
 * The period `from`..`to` (days YYYY-MM-DD of `timeZone`, both included) as instants: [start, end), from the
 * local midnight that starts `from` to the one that ends `to` (a day of 23 or 25 hours where the clocks change).
 * `timeZone` is a name `timeZoneName` accepted.
 */
export function periodBounds(from: string, to: string, timeZone = 'UTC'): { start: Date; end: Date } {
  return { start: startOfLocalDay(new Date(`${from}T00:00:00Z`), timeZone), end: startOfLocalDay(new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS), timeZone) };
}

/** The longest period one report covers, in days. */
export const MAX_PERIOD_DAYS = 366;
/** The first day a report may start on: FIRST_DAY (domain/time.ts). */
export const METRICS_FIRST_DAY = FIRST_DAY;

/**
 * Why a period cannot be reported on (null when it can): dates that exist, in order, at most MAX_PERIOD_DAYS
 * calendar days, and a time zone the server knows.
 */
export function checkPeriod(from: string, to: string, timeZone = 'UTC'): { field: string; message: string } | null {
  for (const [field, v] of [['query.from', from], ['query.to', to]] as const) {
    const d = new Date(`${v}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) return { field, message: `${field} must be a date YYYY-MM-DD` };
    // (as the activity log: nothing was filed before, and far years are where zones' rules stop holding)
    if (v < METRICS_FIRST_DAY) return { field, message: `${field} must be ${METRICS_FIRST_DAY} or later: no request was filed before` };
  }
  if (timeZoneName(timeZone) === null) return { field: 'query.timeZone', message: `query.timeZone ${JSON.stringify(timeZone)} is not a time zone: give an IANA name such as Australia/Sydney, or UTC` };
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  if (days < 1) return { field: 'query.to', message: 'query.to must not be before query.from' };
  if (days > MAX_PERIOD_DAYS) return { field: 'query.to', message: `a report covers at most ${MAX_PERIOD_DAYS} days` };
  return null;
}

/** The metrics of the tickets filed from `from` to `to` (days of `timeZone`, both included; a checked period). */
export function computeSupportMetrics(tickets: MetricsTicket[], from: string, to: string, zone = 'UTC'): SupportMetrics {
  const timeZone = timeZoneName(zone);
  if (timeZone === null) throw new RangeError(`not a time zone: ${JSON.stringify(zone)}`);
  const { start, end } = periodBounds(from, to, timeZone);
  const outcomes = tickets.map(ticketOutcome).filter((o) => o.filedAt >= start && o.filedAt < end);
  const byImpact = Object.fromEntries(IMPACTS.map((i) => [i, groupMetrics(outcomes.filter((o) => o.impact === i))])) as Record<Impact, MetricsGroup>;
  const agents = new Map<string, { agent: { userId: string; name: string } | null; outcomes: TicketOutcome[] }>();
  for (const o of outcomes) {
    const key = o.assignee?.userId ?? '';
    const entry = agents.get(key) ?? { agent: o.assignee, outcomes: [] };
    entry.outcomes.push(o);
    agents.set(key, entry);
  }
  const byAgent = [...agents.values()]
    .sort((a, b) => (a.agent === null ? 1 : b.agent === null ? -1 : a.agent.name.localeCompare(b.agent.name) || a.agent.userId.localeCompare(b.agent.userId)))
    .map((a) => ({ agent: a.agent, ...groupMetrics(a.outcomes) }));
  return { from, to, timeZone, total: groupMetrics(outcomes), byImpact, byAgent };
}
