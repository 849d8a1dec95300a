/**
 * The contract type `timestamp`: a JSON string holding an RFC 3339 date and time,
 * `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]` (`T` or a space between date and time),
 * read as a DuckDB TIMESTAMPTZ (a UTC instant, microseconds; further fraction digits are
 * dropped). Without an offset it is UTC.
 *
 * DuckDB's own cast from text is lenient in ways a contract must not be: it takes
 * `2026-1-5 1:2:3`, a date alone, `24:00:00`, `+24:00`, `-0800`, `+05`, ` UTC`, a
 * trailing space or `.`, `infinity` and `epoch`, and reads a value without an offset in
 * the session's time zone. So the shape is checked first by a regular expression (RE2 in
 * DuckDB, the same text as a JavaScript RegExp here), field ranges included; the cast
 * then only decides calendar validity (the 30th of February) and converts, given an
 * explicit offset (`Z` appended when there is none), so the session's time zone never
 * matters. Measured in bench/timestamp-contract.ts.
 */
import { quoteString } from '../core/sql.ts';

/** The format, for messages and docs. */
export const TIMESTAMP_FORMAT = 'YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]';

/**
 * The whole string's shape (RFC 3339's `date-time`, upper-case `T` and `Z` only, `T` or
 * a space, offset optional): hours 00-23, minutes and seconds 00-59 (no leap second:
 * DuckDB has none), offsets within ±23:59.
 */
export const TIMESTAMP_PATTERN =
  '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?';

const SHAPE = new RegExp(`^(?:${TIMESTAMP_PATTERN})$`);

/** SQL true when the text `s` has the shape (not yet calendar validity). */
export function timestampShapeSql(s: string): string {
  return `regexp_full_match(${s}, ${quoteString(TIMESTAMP_PATTERN)})`;
}

/**
 * SQL giving the TIMESTAMPTZ the text `s` (VARCHAR) stands for, or NULL when it is not
 * a timestamp of the format (wrong shape, or no such date). Never fails.
 *
 * For a string of the shape, the last character is `Z`, or the sixth from the end is
 * the sign of an offset, or there is no offset (the sixth from the end is then `:` or a
 * digit of the seconds or fraction).
 */
export function timestampSql(s: string): string {
  const withOffset = `CASE WHEN right(${s}, 1) = 'Z' OR substr(${s}, -6, 1) IN ('+', '-') THEN ${s} ELSE ${s} || 'Z' END`;
  return `CASE WHEN ${timestampShapeSql(s)} THEN TRY_CAST(${withOffset} AS TIMESTAMPTZ) END`;
}

const daysIn = (year: number, month: number) =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31;

/**
 * The text with an explicit offset (`Z` appended when it has none), or undefined when it
 * is not a timestamp of the format. For bounds written in a definition (`min`, `max`).
 */
export function normalizeTimestamp(text: string): string | undefined {
  if (!SHAPE.test(text)) return undefined;
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  if (Number(text.slice(8, 10)) > daysIn(year, month)) return undefined;
  return /(Z|[+-]\d\d:\d\d)$/.test(text) ? text : `${text}Z`;
}

/** A bound as a SQL TIMESTAMPTZ literal (the text must pass normalizeTimestamp). */
export function timestampLiteral(text: string): string {
  const n = normalizeTimestamp(text);
  if (n === undefined) throw new Error(`not a timestamp: ${text}`);
  return `${quoteString(n)}::TIMESTAMPTZ`;
}
