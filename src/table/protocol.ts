/**
 * Which Delta protocol versions and table features this engine reads and writes
 * (PROTOCOL.md, "Protocol Evolution", "Reader/Writer Version Requirements").
 *
 * We implement reader version 1 (no column mapping, no deletion vectors) and writer
 * version 2 (append-only tables and column invariants). A table that asks for more is
 * refused, naming what it asks for, instead of being read or written wrongly.
 */
import { TributaryError } from '../core/errors.ts';
import type { Protocol } from './actions.ts';

export const READER_VERSION = 1;
export const WRITER_VERSION = 2;
export const ENGINE_INFO = 'tributary/0.1.0';

/**
 * Reader features whose semantics reader version 1 already covers. A reader-3 table that
 * lists only these is readable by us (PROTOCOL.md, "Table Features": features are the
 * union of what versions 1..N implied).
 */
const KNOWN_READER_FEATURES = new Set<string>([]);
/** Writer features that writer version 2 implies ("Writer Version Requirements"). */
const KNOWN_WRITER_FEATURES = new Set<string>(['appendOnly', 'invariants']);

/** The protocol every table we create starts with: no feature lists (duckdb-delta #151). */
export function newTableProtocol(): Protocol {
  return { minReaderVersion: READER_VERSION, minWriterVersion: WRITER_VERSION };
}

/** Throws TABLE_UNSUPPORTED_PROTOCOL unless we can read a table with this protocol. */
export function checkReadable(protocol: Protocol, table: string): void {
  const v = protocol.minReaderVersion;
  if (v === 3) {
    const unknown = (protocol.readerFeatures ?? []).filter((f) => !KNOWN_READER_FEATURES.has(f));
    if (unknown.length === 0) return;
    throw unsupported(
      `table ${table} needs reader features [${unknown.join(', ')}], which Tributary does not implement (it reads protocol version ${READER_VERSION})`,
      table,
      protocol,
    );
  }
  if (v > READER_VERSION) {
    throw unsupported(
      `table ${table} needs Delta reader version ${v}; Tributary reads version ${READER_VERSION} (no column mapping or deletion vectors). Read it with an engine that supports reader version ${v}, or rewrite it without those features`,
      table,
      protocol,
    );
  }
}

/** Throws TABLE_UNSUPPORTED_PROTOCOL unless we may write a table with this protocol. */
export function checkWritable(protocol: Protocol, table: string): void {
  checkReadable(protocol, table);
  const v = protocol.minWriterVersion;
  if (v === 7) {
    const unknown = (protocol.writerFeatures ?? []).filter((f) => !KNOWN_WRITER_FEATURES.has(f));
    if (unknown.length === 0) return;
    throw unsupported(
      `table ${table} needs writer features [${unknown.join(', ')}], which Tributary does not implement; writing would break their guarantees, so write with an engine that supports them`,
      table,
      protocol,
    );
  }
  if (v > WRITER_VERSION) {
    throw unsupported(
      `table ${table} needs Delta writer version ${v}; Tributary writes version ${WRITER_VERSION}. Write it with an engine that supports writer version ${v}`,
      table,
      protocol,
    );
  }
}

/**
 * Table properties that turn on features beyond reader 1 / writer 2. Creating a table
 * with one of them would need a protocol we cannot honour, so create() refuses.
 */
const PROPERTIES_NEEDING_FEATURES: Record<string, string> = {
  'delta.enableChangeDataFeed': 'change data feed (writer 4)',
  'delta.columnMapping.mode': 'column mapping (reader 2, writer 5)',
  'delta.enableDeletionVectors': 'deletion vectors (reader 3, writer 7)',
  'delta.enableRowTracking': 'row tracking (writer 7)',
  'delta.enableInCommitTimestamps': 'in-commit timestamps (writer 7)',
  'delta.enableTypeWidening': 'type widening (reader 3, writer 7)',
};

export function checkCreatableConfiguration(configuration: Record<string, string>, table: string): void {
  for (const [key, feature] of Object.entries(PROPERTIES_NEEDING_FEATURES)) {
    const value = configuration[key];
    if (value === undefined) continue;
    const off = value.toLowerCase() === 'false' || (key === 'delta.columnMapping.mode' && value === 'none');
    if (!off) {
      throw new TributaryError(
        'TABLE_UNSUPPORTED_PROTOCOL',
        `cannot create table ${table} with ${key}=${value}: it needs ${feature}, and Tributary writes protocol reader ${READER_VERSION} / writer ${WRITER_VERSION}. Remove the property`,
        { table, property: key, value },
      );
    }
  }
}

function unsupported(message: string, table: string, protocol: Protocol): TributaryError {
  return new TributaryError('TABLE_UNSUPPORTED_PROTOCOL', message, { table, protocol });
}
