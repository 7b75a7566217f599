/**
 * Service-level targets of support tickets: calendars (calendar time or business hours in an IANA time
 * zone, with working days, hours and holiday dates), arithmetic to the second over them, and the clocks a
 * ticket runs (first response, next response, resolution) with pauses, warnings and escalation points.
 *
 * Pure: no Node built-ins. Local wall times are converted by domain/time.ts (`localTime`, `instantOf`, through
 * `Intl.DateTimeFormat`, which the workflow sandbox provides), so daylight-saving changes are counted as the zone's
 * rules say.
 */
import { instantOf, localTime } from './time';

export const SLA_TARGETS = ['firstResponse', 'nextResponse', 'resolution'] as const;
export type SlaTargetKind = (typeof SLA_TARGETS)[number];

export const IMPACTS = ['critical', 'moderate', 'minimal'] as const;
export type Impact = (typeof IMPACTS)[number];

/** Business hours: the instants between `start` and `end` local time on working days that are not holidays. */
export interface BusinessCalendar {
  /** IANA time zone, e.g. `Europe/Berlin` */
  timeZone: string;
  /** ISO weekdays: 1 = Monday ... 7 = Sunday */
  workingDays: number[];
  /** `HH:MM` local, inclusive */
  start: string;
  /** `HH:MM` local, exclusive; `24:00` = midnight at the end of the day */
  end: string;
  /** local dates `YYYY-MM-DD` that are not worked */
  holidays: string[];
}

export interface SlaTarget {
  /** the target as a duration in seconds (of working time where `calendar` names one) */
  seconds: number;
  /** name of a calendar of the policy: business hours; absent or null: calendar time (24x7) */
  calendar?: string | null;
}

export interface SlaPolicy {
  /** named business calendars */
  calendars: Record<string, BusinessCalendar>;
  /** the three targets per impact */
  impacts: Record<Impact, Record<SlaTargetKind, SlaTarget>>;
  /** share of a target at which the assignee is warned (0.8 = at 80% of the target) */
  warnAtShare: number;
  /** share of a target at which the ticket escalates a second time (1.5 = at 150%) */
  secondEscalationAtShare: number;
}

const HOUR = 3600;

/** The built-in policy (documented in the README): business hours 09:00-17:00 Mon-Fri, UTC, except critical. */
export const DEFAULT_SLA_POLICY: SlaPolicy = {
  calendars: {
    business: { timeZone: 'UTC', workingDays: [1, 2, 3, 4, 5], start: '09:00', end: '17:00', holidays: [] },
  },
  impacts: {
    critical: {
      firstResponse: { seconds: 1 * HOUR, calendar: null },
      nextResponse: { seconds: 2 * HOUR, calendar: null },
      resolution: { seconds: 24 * HOUR, calendar: null },
    },
    moderate: {
      firstResponse: { seconds: 4 * HOUR, calendar: 'business' },
      nextResponse: { seconds: 8 * HOUR, calendar: 'business' },
      resolution: { seconds: 40 * HOUR, calendar: 'business' },
    },
    minimal: {
      firstResponse: { seconds: 8 * HOUR, calendar: 'business' },
      nextResponse: { seconds: 16 * HOUR, calendar: 'business' },
      resolution: { seconds: 80 * HOUR, calendar: 'business' },
    },
  },
  warnAtShare: 0.8,
  secondEscalationAtShare: 1.5,
};

const TIME = '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$';
const target = {
  type: 'object',
  additionalProperties: false,
  required: ['seconds'],
  properties: { seconds: { type: 'integer', minimum: 60, maximum: 31536000 }, calendar: { type: ['string', 'null'], minLength: 1 } },
} as const;
const targets = {
  type: 'object',
  additionalProperties: false,
  required: [...SLA_TARGETS],
  properties: { firstResponse: target, nextResponse: target, resolution: target },
} as const;

/** JSON schema of a policy file (validated with ajv at start-up by services/support). */
export const SLA_POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['calendars', 'impacts', 'warnAtShare', 'secondEscalationAtShare'],
  properties: {
    calendars: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['timeZone', 'workingDays', 'start', 'end', 'holidays'],
        properties: {
          timeZone: { type: 'string', minLength: 1 },
          workingDays: { type: 'array', minItems: 1, maxItems: 7, uniqueItems: true, items: { type: 'integer', minimum: 1, maximum: 7 } },
          start: { type: 'string', pattern: TIME },
          end: { type: 'string', pattern: TIME },
          holidays: { type: 'array', items: { type: 'string', pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' } },
        },
      },
    },
    impacts: { type: 'object', additionalProperties: false, required: [...IMPACTS], properties: { critical: targets, moderate: targets, minimal: targets } },
    warnAtShare: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    secondEscalationAtShare: { type: 'number', exclusiveMinimum: 1, maximum: 10 },
  },
} as const;

/** What the schema cannot say: known time zones, hours that make a day, calendars that exist. Empty when fine. */
export function checkSlaPolicy(policy: SlaPolicy): string[] {
  const problems: string[] = [];
  for (const [name, cal] of Object.entries(policy.calendars)) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: cal.timeZone });
    } catch {
      problems.push(`calendars.${name}.timeZone ${JSON.stringify(cal.timeZone)} is not a known IANA time zone`);
    }
    if (minutesOf(cal.end) <= minutesOf(cal.start)) problems.push(`calendars.${name}: end ${cal.end} must be after start ${cal.start}`);
  }
  for (const impact of IMPACTS) {
    for (const kind of SLA_TARGETS) {
      const c = policy.impacts[impact][kind].calendar;
      if (c && !policy.calendars[c]) problems.push(`impacts.${impact}.${kind}.calendar ${JSON.stringify(c)} is not one of the calendars`);
    }
  }
  return problems;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}
const nextDate = (d: LocalDate): LocalDate => {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + 1));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
};
const isoDate = (d: LocalDate) => `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
/** ISO weekday of a date: 1 = Monday ... 7 = Sunday. */
const weekday = (d: LocalDate) => ((new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay() + 6) % 7) + 1;

/** The working interval [start, end) of a local date, in instants, or null for a day off. */
function workingInterval(cal: BusinessCalendar, d: LocalDate): [number, number] | null {
  if (!cal.workingDays.includes(weekday(d)) || cal.holidays.includes(isoDate(d))) return null;
  const start = instantOf(d.year, d.month, d.day, minutesOf(cal.start), cal.timeZone);
  const endMinutes = minutesOf(cal.end);
  const end = endMinutes >= 24 * 60 ? (() => {
    const n = nextDate(d);
    return instantOf(n.year, n.month, n.day, endMinutes - 24 * 60, cal.timeZone);
  })() : instantOf(d.year, d.month, d.day, endMinutes, cal.timeZone);
  return end > start ? [start, end] : null;
}

/** Days searched before concluding a calendar has no working time (10 years). */
const MAX_DAYS = 3660;

function startDate(cal: BusinessCalendar, instantMs: number): LocalDate {
  const l = localTime(instantMs, cal.timeZone);
  // the previous local day too: a window ending at 24:00 may still be open
  const t = new Date(Date.UTC(l.year, l.month - 1, l.day - 1));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** The instant after `seconds` of working time counted from `from` (calendar null: plain seconds). */
export function addWorkingSeconds(cal: BusinessCalendar | null, from: Date, seconds: number): Date {
  if (seconds < 0) throw new RangeError('seconds must not be negative');
  // to the millisecond (a clock counts fractions of a second: see SlaClock.consumedSeconds)
  if (!cal) return new Date(from.getTime() + Math.round(seconds * 1000));
  let left = Math.round(seconds * 1000);
  let d = startDate(cal, from.getTime());
  for (let i = 0; i < MAX_DAYS; i++, d = nextDate(d)) {
    const w = workingInterval(cal, d);
    if (!w) continue;
    const s = Math.max(w[0], from.getTime());
    if (s >= w[1]) continue;
    if (left <= w[1] - s) return new Date(s + left);
    left -= w[1] - s;
  }
  throw new RangeError(`calendar ${cal.timeZone} has no working time within ${MAX_DAYS} days`);
}

/** Working seconds between two instants (0 when `to` is not after `from`), whole seconds rounded down. */
export function workingSecondsBetween(cal: BusinessCalendar | null, from: Date, to: Date): number {
  return Math.floor(workingMsBetween(cal, from, to) / 1000);
}

/** Working milliseconds between two instants (0 when `to` is not after `from`). */
function workingMsBetween(cal: BusinessCalendar | null, from: Date, to: Date): number {
  const a = from.getTime();
  const b = to.getTime();
  if (b <= a) return 0;
  if (!cal) return b - a;
  let ms = 0;
  let d = startDate(cal, a);
  for (let i = 0; i < MAX_DAYS * 10; i++, d = nextDate(d)) {
    const w = workingInterval(cal, d);
    if (w) {
      if (w[0] >= b) break;
      ms += Math.max(0, Math.min(w[1], b) - Math.max(w[0], a));
    } else if (instantOf(d.year, d.month, d.day, 0, cal.timeZone) >= b) break;
  }
  return ms;
}

// ---------------------------------------------------------------------------------------------------------
// Clocks

/** One running target of a ticket. Times are ISO instants. */
export interface SlaClock {
  kind: SlaTargetKind;
  targetSeconds: number;
  calendar: BusinessCalendar | null;
  startedAt: string;
  /**
   * working seconds counted before the current run, to the millisecond (a fraction: a pause drops nothing, so a due
   * instant does not drift later by up to a second at each pause)
   */
  consumedSeconds: number;
  /** null while paused or stopped */
  runningSince: string | null;
  /** set when the target was met (or the clock was cancelled) */
  stoppedAt: string | null;
  met: boolean | null;
  warned: boolean;
  /** 0 none, 1 breached, 2 breached past the second escalation point */
  breachLevel: 0 | 1 | 2;
}

export function startClock(policy: SlaPolicy, impact: Impact, kind: SlaTargetKind, at: Date): SlaClock {
  const t = policy.impacts[impact][kind];
  return {
    kind,
    targetSeconds: t.seconds,
    calendar: t.calendar ? policy.calendars[t.calendar] : null,
    startedAt: at.toISOString(),
    consumedSeconds: 0,
    runningSince: at.toISOString(),
    stoppedAt: null,
    met: null,
    warned: false,
    breachLevel: 0,
  };
}

/**
 * Working seconds a clock has counted up to `at`, to the millisecond; `keepMs: false` is the rule before clocks
 * kept milliseconds (each run counted in whole seconds), which a ticket workflow begun before it replays with.
 */
function countedSeconds(c: SlaClock, at: Date, keepMs = true): number {
  const run = c.runningSince ? workingMsBetween(c.calendar, new Date(c.runningSince), at) : 0;
  if (!keepMs) return c.consumedSeconds + Math.floor(run / 1000);
  return (Math.round(c.consumedSeconds * 1000) + run) / 1000;
}

/** Working seconds a clock has counted up to `at`, whole seconds rounded down (as shown). */
export function elapsedSeconds(c: SlaClock, at: Date): number {
  return Math.floor(countedSeconds(c, at));
}

export function pauseClock(c: SlaClock, at: Date, keepMs = true): SlaClock {
  if (!c.runningSince || c.stoppedAt) return c;
  return { ...c, consumedSeconds: countedSeconds(c, at, keepMs), runningSince: null };
}

export function resumeClock(c: SlaClock, at: Date): SlaClock {
  if (c.runningSince || c.stoppedAt) return c;
  return { ...c, runningSince: at.toISOString() };
}

/** Stops a clock: met when stopped within its target. */
export function stopClock(c: SlaClock, at: Date, keepMs = true): SlaClock {
  if (c.stoppedAt) return c;
  const paused = pauseClock(c, at, keepMs);
  return { ...paused, stoppedAt: at.toISOString(), met: paused.consumedSeconds <= c.targetSeconds };
}

/** A stopped resolution clock of a reopened ticket runs again with what it had counted. */
export function restartClock(c: SlaClock, at: Date): SlaClock {
  return { ...c, stoppedAt: null, met: null, runningSince: at.toISOString() };
}

/** The instant a running clock reaches `share` of its target (null while paused or stopped). */
export function instantAtShare(c: SlaClock, share: number): Date | null {
  if (!c.runningSince || c.stoppedAt) return null;
  // (rounded to a millionth of a second first: 3600 × 1.1 is 3960.0000000000005 in floating point, and its ceiling
  // a second late: review)
  const needed = Math.ceil(Math.round(c.targetSeconds * share * 1e6) / 1e6) - c.consumedSeconds;
  const since = new Date(c.runningSince);
  return needed <= 0 ? since : addWorkingSeconds(c.calendar, since, needed);
}

/** When the clock is due (its target), whether it runs or not: paused clocks have no due instant. */
export const dueAt = (c: SlaClock): Date | null => instantAtShare(c, 1);

/**
 * The running clock that most needs someone, for the one given the request: a breached one (its due passed), else one
 * past its warning point (at risk), the earliest due first; null when every running clock is still calm.
 */
export function urgentClock(clocks: readonly SlaClock[]): { clock: SlaTargetKind; dueAt: Date; breached: boolean } | null {
  const urgent = clocks
    .filter((c) => c.runningSince && !c.stoppedAt && (c.warned || c.breachLevel > 0))
    .map((c) => ({ clock: c.kind, dueAt: dueAt(c)!, breached: c.breachLevel > 0 }))
    .sort((a, b) => Number(b.breached) - Number(a.breached) || a.dueAt.getTime() - b.dueAt.getTime());
  return urgent[0] ?? null;
}

export type ClockMilestone = 'warning' | 'breach' | 'second-breach';
/** The next milestone of a running clock not yet passed, and when. */
export function nextMilestone(c: SlaClock, policy: Pick<SlaPolicy, 'warnAtShare' | 'secondEscalationAtShare'>): { milestone: ClockMilestone; at: Date } | null {
  if (!c.runningSince || c.stoppedAt) return null;
  if (!c.warned && c.breachLevel === 0) return { milestone: 'warning', at: instantAtShare(c, policy.warnAtShare)! };
  if (c.breachLevel === 0) return { milestone: 'breach', at: instantAtShare(c, 1)! };
  if (c.breachLevel === 1) return { milestone: 'second-breach', at: instantAtShare(c, policy.secondEscalationAtShare)! };
  return null;
}

/**
 * A clock as the API shows it. A clock the partner's withdrawal stopped (`withdrawnAt`, the instant of the
 * withdrawal) within its target was neither met nor missed: nobody answered, and nothing was due any more. One
 * past its target by then was missed all the same (as the SLA metrics count it).
 */
export function clockView(c: SlaClock, now: Date, withdrawnAt: string | null = null) {
  const due = dueAt(c);
  // whole seconds, rounded toward the verdict: a clock missed by a fraction of a second reads past its target (QA:
  // "120 of 120 s, missed"), a met one within it
  const elapsed = c.stoppedAt && c.met === false ? Math.ceil(countedSeconds(c, new Date(c.stoppedAt))) : elapsedSeconds(c, c.stoppedAt ? new Date(c.stoppedAt) : now);
  const stoppedState = !c.met ? 'missed' : c.stoppedAt !== null && c.stoppedAt === withdrawnAt ? 'withdrawn' : 'met';
  return {
    kind: c.kind,
    targetSeconds: c.targetSeconds,
    businessHours: c.calendar !== null,
    state: c.stoppedAt ? stoppedState : c.runningSince ? 'running' : 'paused',
    startedAt: c.startedAt,
    dueAt: due ? due.toISOString() : null,
    elapsedSeconds: elapsed,
    /** working seconds left of its target while it runs or is paused (0 once past it); null once stopped */
    remainingSeconds: c.stoppedAt ? null : Math.max(0, c.targetSeconds - elapsed),
    stoppedAt: c.stoppedAt,
    breachLevel: c.breachLevel,
    warned: c.warned,
  };
}

/** An SLA target as people name it, also inside a text ("firstResponse target breached" -> "first response target breached"). */
export function slaWords(text: string): string {
  return text.replace(/\b(firstResponse|nextResponse)\b/g, (k) => (k === 'firstResponse' ? 'first response' : 'next response'));
}
