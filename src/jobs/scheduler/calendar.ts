/**
 * Time as jobs see it: cron fire times in a time zone (croner: a fixed-time job such
 * as `30 2 * * *` runs once on the day a DST change repeats 02:30 and at the first valid
 * time after a skipped 02:30; an interval job such as `0 * * * *` skips the missing hour
 * and runs in both repeated ones), a run's logical date, and its SLA deadline.
 */
import { Cron } from 'croner';
import type { Schedule, Sla } from './types.ts';

/** Why `tz` is not a time zone, or undefined when it is one. */
export function timezoneProblem(tz: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `'${tz}' is not a time zone; use an IANA name such as UTC, Europe/Berlin or America/New_York`;
  }
}

/** Why `expr` is not a cron expression croner reads, or undefined. */
export function cronProblem(expr: string): string | undefined {
  try {
    new Cron(expr, { paused: true });
    return undefined;
  } catch (err) {
    return `'${expr}' is not a cron expression (${(err as Error).message}); write 'minute hour day-of-month month day-of-week', e.g. '0 * * * *' (hourly) or '30 2 * * *' (02:30 daily)`;
  }
}

const crons = new Map<string, Cron>();

function cronOf(expr: string, timezone: string): Cron {
  const key = `${timezone}\u0000${expr}`;
  let c = crons.get(key);
  if (c === undefined) {
    // Paused and without a function: croner only computes times, it never sets a timer.
    c = new Cron(expr, { paused: true, timezone });
    crons.set(key, c);
  }
  return c;
}

/** The first fire time strictly after `afterMs`, or undefined when the expression has no more. */
export function nextFire(schedule: Schedule, afterMs: number): number | undefined {
  return cronOf(schedule.cron, schedule.timezone).nextRun(new Date(afterMs))?.getTime();
}

/** `YYYY-MM-DD` of the instant in the time zone, plus `offsetDays`. */
export function localDate(ms: number, timezone: string, offsetDays = 0): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const day = Date.UTC(get('year'), get('month') - 1, get('day') + offsetDays);
  return new Date(day).toISOString().slice(0, 10);
}

/** Whether `text` is a calendar date `YYYY-MM-DD`. */
export function isDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  return new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;
}

/**
 * When a run scheduled at `scheduledMs` must have succeeded: `within` after the
 * scheduled time, or the first `by` time of day (in the job's time zone) after it.
 */
export function slaDeadline(sla: Sla, scheduledMs: number, timezone: string): number {
  if ('withinMs' in sla) return scheduledMs + sla.withinMs;
  const expr = `${sla.by.minute} ${sla.by.hour} * * *`;
  return cronOf(expr, timezone).nextRun(new Date(scheduledMs))!.getTime();
}

/** `HH:MM` (24-hour) → hour and minute, or undefined. */
export function parseTimeOfDay(text: string): { hour: number; minute: number } | undefined {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  return m ? { hour: Number(m[1]), minute: Number(m[2]) } : undefined;
}

export function describeSla(sla: Sla): string {
  if ('withinMs' in sla) return `within ${formatDuration(sla.withinMs)}`;
  return `by ${String(sla.by.hour).padStart(2, '0')}:${String(sla.by.minute).padStart(2, '0')}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}min`;
  return `${+(ms / 3_600_000).toFixed(2)}h`;
}
