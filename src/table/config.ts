/**
 * Table properties (metaData.configuration) that the core acts on, with Delta's
 * defaults (PROTOCOL.md, "Table Properties"; the Spark reference implementation's
 * DeltaConfigs for the defaults).
 */
import { TributaryError } from '../core/errors.ts';

export interface TableConfig {
  /** Write a checkpoint after each version divisible by this (delta.checkpointInterval). */
  checkpointInterval: number;
  /** How long commit files are kept behind a checkpoint (delta.logRetentionDuration). */
  logRetentionMs: number;
  /** How long removed data files are kept for readers of old versions (delta.deletedFileRetentionDuration). */
  deletedFileRetentionMs: number;
  /** delta.appendOnly: commits may not remove data (PROTOCOL.md, "Append-only Tables"). */
  appendOnly: boolean;
  /** delta.enableExpiredLogCleanup: whether cleanupLog() may delete anything. */
  expiredLogCleanup: boolean;
  raw: Record<string, string>;
}

const DAY_MS = 86_400_000;
export const DEFAULTS = {
  checkpointInterval: 10,
  logRetentionMs: 30 * DAY_MS,
  deletedFileRetentionMs: 7 * DAY_MS,
} as const;

const UNIT_MS: Record<string, number> = {
  nanosecond: 1e-6,
  microsecond: 1e-3,
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: DAY_MS,
  week: 7 * DAY_MS,
};

/**
 * Parses a Spark calendar interval as Delta stores it in table properties:
 * `interval 7 days`, `interval 1 week 2 hours`, `30 days`. Months and years are refused
 * because their length in milliseconds is ambiguous (Spark refuses them here too).
 */
export function parseInterval(text: string, key = 'interval'): number {
  const words = text.trim().toLowerCase().split(/\s+/);
  if (words[0] === 'interval') words.shift();
  if (words.length === 0 || words.length % 2 !== 0) throw badInterval(text, key);
  let total = 0;
  for (let i = 0; i < words.length; i += 2) {
    const n = Number(words[i]);
    const unit = words[i + 1].replace(/s$/, '');
    const ms = UNIT_MS[unit];
    if (!Number.isFinite(n) || ms === undefined) throw badInterval(text, key);
    total += n * ms;
  }
  if (total < 0) throw badInterval(text, key);
  return Math.floor(total);
}

function badInterval(text: string, key: string): TributaryError {
  return new TributaryError(
    'CONFIG_INVALID',
    `table property ${key}='${text}' is not an interval; write it like 'interval 7 days' (units: milliseconds, seconds, minutes, hours, days, weeks)`,
    { key, value: text },
  );
}

function parseBool(raw: Record<string, string>, key: string, dflt: boolean): boolean {
  const v = raw[key];
  if (v === undefined) return dflt;
  const l = v.toLowerCase();
  if (l === 'true') return true;
  if (l === 'false') return false;
  throw new TributaryError('CONFIG_INVALID', `table property ${key}='${v}' must be 'true' or 'false'`, {
    key,
    value: v,
  });
}

/**
 * Table properties with defaults applied. Strict (throws CONFIG_INVALID on an
 * unparseable value) when we create or change a table; lenient (an unparseable value
 * falls back to the default) when reading one another engine wrote, so a bad
 * maintenance property never makes a table unreadable.
 */
export function tableConfig(raw: Record<string, string>, opts: { lenient?: boolean } = {}): TableConfig {
  if (opts.lenient) {
    const usable: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      try {
        strictConfig({ [k]: v });
        usable[k] = v;
      } catch {
        // keep the default for this property
      }
    }
    return { ...strictConfig(usable), raw };
  }
  return strictConfig(raw);
}

function strictConfig(raw: Record<string, string>): TableConfig {
  let checkpointInterval: number = DEFAULTS.checkpointInterval;
  const ci = raw['delta.checkpointInterval'];
  if (ci !== undefined) {
    checkpointInterval = Number(ci);
    if (!Number.isInteger(checkpointInterval) || checkpointInterval < 1) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `table property delta.checkpointInterval='${ci}' must be a positive integer`,
        { key: 'delta.checkpointInterval', value: ci },
      );
    }
  }
  const lr = raw['delta.logRetentionDuration'];
  const dr = raw['delta.deletedFileRetentionDuration'];
  return {
    checkpointInterval,
    logRetentionMs:
      lr === undefined ? DEFAULTS.logRetentionMs : parseInterval(lr, 'delta.logRetentionDuration'),
    deletedFileRetentionMs:
      dr === undefined
        ? DEFAULTS.deletedFileRetentionMs
        : parseInterval(dr, 'delta.deletedFileRetentionDuration'),
    appendOnly: parseBool(raw, 'delta.appendOnly', false),
    expiredLogCleanup: parseBool(raw, 'delta.enableExpiredLogCleanup', true),
    raw,
  };
}
