/**
 * Tables by name, as the API names them: only names under `<dataDir>/tables/` (a path or
 * URL in a request is refused — a client may not make the server open what it likes),
 * found as `tributary table` and `tributary query` find them (table/locate.ts). Opened
 * tables are kept, so reading the latest version again only reads the commits since.
 */
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { parseAsOfTimestamp } from '../../query/run.ts';
import { DeltaTable, isLocation, locateTable, type Snapshot } from '../../table/index.ts';
import { requestInvalid } from '../http-errors.ts';

export const TABLE_PARAM_SCHEMA = {
  type: 'object',
  required: ['table'],
  additionalProperties: false,
  properties: {
    table: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      description: 'A table name under the data directory (dots for nesting: gold.daily)',
    },
  },
} as const;

export const AS_OF_PROPERTIES = {
  version: { type: 'integer', minimum: 0, description: 'Time travel: the table at this version' },
  timestamp: {
    type: 'string',
    description:
      'Time travel: the table as of this instant (the last version committed at or before it): 2026-01-01T12:00:00Z; without an offset it is UTC',
  },
} as const;

export interface AsOfQuery {
  version?: number;
  timestamp?: string;
}

const MAX_OPEN = 256;

export class TableCache {
  readonly dataDir: string;
  private readonly open = new Map<string, Promise<DeltaTable>>();
  /** The latest snapshot each table was last read at (a request pinned to it needs no listing of the log). */
  private readonly latest = new Map<string, Snapshot>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** The table of a name; HTTP_REQUEST_INVALID for a path, TABLE_NOT_FOUND (404) when there is none. */
  async get(name: string): Promise<DeltaTable> {
    if (isLocation(name)) {
      throw requestInvalid(
        'params.table',
        `'${name}' is not a table name: the API serves the tables of its data directory by name`,
      );
    }
    let table = this.open.get(name);
    if (table === undefined) {
      if (this.open.size >= MAX_OPEN) {
        const oldest = this.open.keys().next().value!;
        this.open.delete(oldest);
        this.latest.delete(oldest);
      }
      table = this.load(name);
      this.open.set(name, table);
    }
    try {
      return await table;
    } catch (err) {
      this.open.delete(name);
      throw err;
    }
  }

  /** A snapshot: latest, or as of a version or timestamp. A table gone since it was opened is looked up again. */
  async snapshot(name: string, at: AsOfQuery = {}): Promise<{ table: DeltaTable; snapshot: Snapshot }> {
    return this.snapshotAt(name, asOfSpec(at));
  }

  /** Like `snapshot`, with the timestamp in ms (the query layer's `openTable`). */
  async snapshotAt(
    name: string,
    spec: { version?: number; timestamp?: number },
  ): Promise<{ table: DeltaTable; snapshot: Snapshot }> {
    const table = await this.get(name);
    // The version the latest read found (the dashboard pins its panels to it): that
    // snapshot, as it was read, without listing the log again.
    const latest = this.latest.get(name);
    if (spec.version !== undefined && spec.timestamp === undefined && latest?.version === spec.version) {
      return { table, snapshot: latest };
    }
    try {
      return { table, snapshot: this.remember(name, spec, await table.snapshot(spec)) };
    } catch (err) {
      if (!isTributaryError(err, 'TABLE_NOT_FOUND')) throw err;
      this.open.delete(name);
      this.latest.delete(name);
      const again = await this.get(name);
      return { table: again, snapshot: this.remember(name, spec, await again.snapshot(spec)) };
    }
  }

  private remember(name: string, spec: { version?: number; timestamp?: number }, snap: Snapshot): Snapshot {
    if (spec.version === undefined && spec.timestamp === undefined) this.latest.set(name, snap);
    return snap;
  }

  private async load(name: string): Promise<DeltaTable> {
    try {
      const { store } = await locateTable(name, this.dataDir);
      return await DeltaTable.open(store);
    } catch (err) {
      if (isTributaryError(err, 'TABLE_NOT_FOUND')) {
        throw new TributaryError(
          'TABLE_NOT_FOUND',
          `no table named '${name}' in the data directory; GET /api/v1/tables lists the tables`,
          { table: name },
          err,
        );
      }
      if (isTributaryError(err, 'TABLE_INVALID_ARGUMENT')) throw requestInvalid('params.table', err.message);
      throw err;
    }
  }
}

/** `version` or `timestamp` (not both) as a snapshot spec. */
export function asOfSpec(at: AsOfQuery): { version?: number; timestamp?: number } {
  if (at.version !== undefined && at.timestamp !== undefined) {
    throw requestInvalid('querystring.timestamp', 'give version or timestamp, not both');
  }
  if (at.version !== undefined) return { version: at.version };
  if (at.timestamp !== undefined) {
    try {
      return { timestamp: parseAsOfTimestamp(at.timestamp) };
    } catch {
      throw requestInvalid(
        'querystring.timestamp',
        `'${at.timestamp}' is not a timestamp; write it like 2026-01-01T12:00:00Z (without an offset it is UTC)`,
      );
    }
  }
  return {};
}
