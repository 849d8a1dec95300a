/**
 * Durations and sizes as definitions write them: `'500ms'`, `'30s'`, `'2 minutes'`,
 * `'1h'`, `'7 days'`; `'16MiB'`, `'1 GiB'`, or a number of bytes. A bare number is
 * refused as a duration: `60` could be seconds or milliseconds, and a wrong guess is a
 * silent 1000× error.
 */

const UNITS_MS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

const UNITS_BYTES: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
};

/** Milliseconds; throws a message saying what is expected. */
export function parseDuration(v: unknown): number {
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$/.exec(v) : null;
  const unit = m ? UNITS_MS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(
      `expected a duration such as '500ms', '30s', '2 minutes', '1h' or '7 days', got ${JSON.stringify(v)}`,
    );
  }
  return Math.round(Number(m[1]) * unit);
}

/** Bytes; throws a message saying what is expected. */
export function parseSize(v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)?\s*$/.exec(v) : null;
  const unit = m ? UNITS_BYTES[(m[2] ?? 'b').toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : 0;
  if (n <= 0) {
    throw new Error(`expected a size such as 1048576, '512KiB', '16MiB' or '1GiB', got ${JSON.stringify(v)}`);
  }
  return n;
}
