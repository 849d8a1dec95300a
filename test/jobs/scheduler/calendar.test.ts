/**
 * Time as jobs see it, checked against instants worked out by hand from the zones' rules:
 * SLA deadlines (`within`, `by` a local time of day, across a DST change) and a run's
 * logical date in its time zone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localDate, slaDeadline } from '../../../src/jobs/scheduler/index.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

test('SLA deadlines: within a duration, or by the next local time of day after the scheduled time', () => {
  assert.equal(
    iso(slaDeadline({ withinMs: 7_200_000 }, at('2026-11-29T02:00:00Z'), 'UTC')),
    '2026-11-29T04:00:00.000Z',
  );
  const by6 = { by: { hour: 6, minute: 0 } };
  // 03:00 in Berlin (CET, UTC+1): 06:00 the same day is 05:00 UTC.
  assert.equal(
    iso(slaDeadline(by6, at('2026-11-29T02:00:00Z'), 'Europe/Berlin')),
    '2026-11-29T05:00:00.000Z',
  );
  // 06:30 local is past 06:00: the next day's.
  assert.equal(
    iso(slaDeadline(by6, at('2026-11-29T05:30:00Z'), 'Europe/Berlin')),
    '2026-11-30T05:00:00.000Z',
  );
  // Scheduled on the evening before the clocks go forward (29 March): 06:00 CEST is 04:00 UTC.
  assert.equal(
    iso(slaDeadline(by6, at('2026-03-28T22:00:00Z'), 'Europe/Berlin')),
    '2026-03-29T04:00:00.000Z',
  );
  // New York, 1 November (EDT → EST at 02:00): 06:00 EST is 11:00 UTC.
  assert.equal(
    iso(slaDeadline(by6, at('2026-11-01T04:30:00Z'), 'America/New_York')),
    '2026-11-01T11:00:00.000Z',
  );
});

test("a run's logical date is its scheduled day in the job's time zone, plus the offset", () => {
  assert.equal(localDate(at('2026-11-29T23:30:00Z'), 'UTC'), '2026-11-29');
  assert.equal(localDate(at('2026-11-29T23:30:00Z'), 'Europe/Berlin'), '2026-11-30');
  assert.equal(localDate(at('2026-11-29T23:30:00Z'), 'Europe/Berlin', -1), '2026-11-29');
  assert.equal(localDate(at('2026-03-01T03:00:00Z'), 'America/New_York', -1), '2026-02-27');
  assert.equal(localDate(at('2028-03-01T12:00:00Z'), 'UTC', -1), '2028-02-29');
});
