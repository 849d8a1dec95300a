/**
 * Classic single-file checkpoints (PROTOCOL.md, "Checkpoints", "Checkpoint Schema",
 * "Last Checkpoint File Schema"): one action per row, in nullable struct columns
 * protocol, metaData, txn, add, remove. No commitInfo. Absent structs are NULL rows of
 * the column (never a struct of null fields), maps are Parquet MAP<string,string>, and
 * add.stats stays the JSON string from the commit.
 *
 * DuckDB writes and reads the Parquet: rows go in as NDJSON read with an explicit
 * column type per action (so the Parquet schema is exact, not inferred) and come out
 * as JSON per struct column, which tolerates checkpoints from Spark or delta-rs with
 * extra columns (stats_parsed, partitionValues_parsed) or without optional ones.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crashPoint } from '../core/crash-points.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import { quoteString } from '../core/sql.ts';
import type { ObjectMeta, ObjectStore } from '../storage/object-store.ts';
import type { Action, Add, Metadata, Protocol, Remove, Txn } from './actions.ts';
import { connect } from './duckdb.ts';
import { checkpointPath, LAST_CHECKPOINT, readLastCheckpoint } from './log-files.ts';
import type { LogState } from './log-replay.ts';

const MAP = 'MAP(VARCHAR, VARCHAR)';
/** Column types of the checkpoint file, in the field order of the protocol's schema. */
const COLUMNS: Record<string, string> = {
  protocol:
    'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
  metaData: `STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${MAP}, createdTime BIGINT)`,
  txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
  add: `STRUCT(path VARCHAR, partitionValues ${MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${MAP})`,
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${MAP}, size BIGINT)`,
};
const NAMES = Object.keys(COLUMNS);

/** The rows of a checkpoint of `state`: tombstones older than `tombstoneCutoff` are dropped. */
export function checkpointRows(state: LogState, tombstoneCutoff: number): Array<Record<string, unknown>> {
  const p = state.protocol!;
  const m = state.metadata!;
  const rows: Array<Record<string, unknown>> = [
    {
      protocol: {
        minReaderVersion: p.minReaderVersion,
        minWriterVersion: p.minWriterVersion,
        // "If a table has neither [reader 3 nor writer 7] ... their values must be null."
        readerFeatures: p.minReaderVersion === 3 ? (p.readerFeatures ?? []) : null,
        writerFeatures: p.minWriterVersion === 7 ? (p.writerFeatures ?? []) : null,
      },
    },
    {
      metaData: {
        id: m.id,
        name: m.name ?? null,
        description: m.description ?? null,
        format: { provider: m.format?.provider ?? 'parquet', options: m.format?.options ?? {} },
        schemaString: m.schemaString,
        partitionColumns: m.partitionColumns ?? [],
        configuration: m.configuration ?? {},
        createdTime: m.createdTime ?? null,
      },
    },
  ];
  for (const t of state.txns.values()) {
    rows.push({ txn: { appId: t.appId, version: t.version, lastUpdated: t.lastUpdated ?? null } });
  }
  for (const a of state.files.values()) {
    rows.push({
      add: {
        path: a.path,
        partitionValues: a.partitionValues ?? {},
        size: a.size,
        modificationTime: a.modificationTime,
        dataChange: a.dataChange,
        stats: a.stats ?? null,
        tags: a.tags ?? null,
      },
    });
  }
  for (const r of state.tombstones.values()) {
    // Tombstones only serve VACUUM; expired ones are dropped ("Checkpoints").
    if ((r.deletionTimestamp ?? 0) <= tombstoneCutoff) continue;
    rows.push({
      remove: {
        path: r.path,
        deletionTimestamp: r.deletionTimestamp ?? null,
        dataChange: r.dataChange,
        extendedFileMetadata: r.extendedFileMetadata ?? null,
        partitionValues: r.partitionValues ?? null,
        size: r.size ?? null,
      },
    });
  }
  return rows;
}

/**
 * Writes `%020d.checkpoint.parquet` for `state.version` and then `_last_checkpoint`.
 * Overwriting a classic checkpoint is allowed: racing writers write the same content.
 */
export async function writeCheckpoint(
  store: ObjectStore,
  state: LogState,
  tombstoneCutoff: number,
): Promise<number> {
  const rows = checkpointRows(state, tombstoneCutoff);
  const dir = await mkdtemp(join(tmpdir(), 'tributary-ckpt-'));
  try {
    const input = join(dir, 'actions.json');
    const output = join(dir, 'checkpoint.parquet');
    await writeFile(input, rows.map((r) => JSON.stringify(r)).join('\n'));
    const columns = `{${NAMES.map((n) => `${quoteString(n)}: ${quoteString(COLUMNS[n])}`).join(', ')}}`;
    const conn = await connect();
    try {
      await conn.run(
        `COPY (SELECT ${NAMES.map((n) => `"${n}"`).join(', ')} FROM read_json(${quoteString(input)}, format='newline_delimited', columns=${columns}, maximum_object_size=1073741824)) TO ${quoteString(output)} (FORMAT parquet, COMPRESSION snappy)`,
      );
    } finally {
      conn.closeSync();
    }
    const bytes = await readFile(output);
    await store.put(checkpointPath(state.version), bytes);
    crashPoint('checkpoint.written');
    // _last_checkpoint never moves backwards (an old snapshot can be checkpointed late).
    const current = await readLastCheckpoint(store);
    if (current !== undefined && current.version > state.version) return rows.length;
    const last = {
      version: state.version,
      size: rows.length,
      sizeInBytes: bytes.length,
      numOfAddFiles: state.files.size,
    };
    await store.put(LAST_CHECKPOINT, new TextEncoder().encode(JSON.stringify(last)));
    return rows.length;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads the actions of a checkpoint (all its parts); TABLE_CORRUPT_LOG if unreadable. */
export async function readCheckpoint(
  store: ObjectStore,
  parts: ObjectMeta[],
  table: string,
): Promise<Action[]> {
  const actions: Action[] = [];
  let dir: string | undefined;
  const conn = await connect();
  try {
    for (const part of parts) {
      let local = store.localPath?.(part.path);
      try {
        if (local === undefined) {
          dir ??= await mkdtemp(join(tmpdir(), 'tributary-ckpt-'));
          local = join(dir, `part-${actions.length}.parquet`);
          await writeFile(local, await store.get(part.path));
        }
        const desc = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoteString(local)})`);
        const present = new Set(desc.getRowObjectsJson().map((r) => String(r.column_name)));
        const cols = NAMES.filter((n) => present.has(n));
        if (cols.length === 0) throw new Error('no action columns');
        // One NDJSON string per action column: far faster than a JS value per cell.
        const res = await conn.runAndReadAll(
          `SELECT ${cols.map((c) => `string_agg(to_json("${c}"), chr(10)) FILTER (WHERE "${c}" IS NOT NULL)`).join(', ')} FROM read_parquet(${quoteString(local)})`,
        );
        const row = res.getRows()[0] ?? [];
        for (const [i, c] of cols.entries()) {
          const text = row[i];
          if (typeof text !== 'string') continue;
          for (const line of text.split('\n')) actions.push(toAction(c, JSON.parse(line)));
        }
      } catch (err) {
        // Storage or DuckDB failing for a while (I/O, memory) says nothing of the file.
        if (isTributaryError(err) && err.retryable) throw err;
        throw new TributaryError(
          'TABLE_CORRUPT_LOG',
          `table ${table}: checkpoint ${part.path} cannot be read (${(err as Error).message}); delete it and its _last_checkpoint entry only if every commit since version 0 is still in the log`,
          { table, file: part.path },
          err,
        );
      }
    }
  } finally {
    conn.closeSync();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
  return actions;
}

/** Keeps the protocol's fields of a checkpoint struct (dropping stats_parsed and other extras). */
function toAction(column: string, o: Record<string, unknown>): Action {
  const nn = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
  switch (column) {
    case 'protocol': {
      const p: Protocol = {
        minReaderVersion: Number(o.minReaderVersion),
        minWriterVersion: Number(o.minWriterVersion),
      };
      if (Array.isArray(o.readerFeatures)) p.readerFeatures = o.readerFeatures as string[];
      if (Array.isArray(o.writerFeatures)) p.writerFeatures = o.writerFeatures as string[];
      return { protocol: p };
    }
    case 'metaData':
      return {
        metaData: {
          ...(o as unknown as Metadata),
          format: (o.format as Metadata['format']) ?? { provider: 'parquet', options: {} },
          partitionColumns: (o.partitionColumns as string[]) ?? [],
          configuration: (o.configuration as Record<string, string>) ?? {},
        },
      };
    case 'txn':
      return {
        txn: { appId: String(o.appId), version: Number(o.version), lastUpdated: nn(o.lastUpdated) } as Txn,
      };
    case 'add': {
      const a: Add = {
        path: String(o.path),
        partitionValues: (o.partitionValues as Record<string, string | null>) ?? {},
        size: Number(o.size),
        modificationTime: Number(o.modificationTime),
        dataChange: o.dataChange !== false,
      };
      if (typeof o.stats === 'string') a.stats = o.stats;
      if (o.tags !== null && o.tags !== undefined) a.tags = o.tags as Record<string, string>;
      return { add: a };
    }
    default: {
      const r: Remove = { path: String(o.path), dataChange: o.dataChange !== false };
      if (typeof o.deletionTimestamp === 'number') r.deletionTimestamp = o.deletionTimestamp;
      if (typeof o.extendedFileMetadata === 'boolean') r.extendedFileMetadata = o.extendedFileMetadata;
      if (o.partitionValues !== null && o.partitionValues !== undefined)
        r.partitionValues = o.partitionValues as Record<string, string | null>;
      if (typeof o.size === 'number') r.size = o.size;
      return { remove: r };
    }
  }
}
