/**
 * A snapshot: the state of a table at one version (PROTOCOL.md, "Delta Table
 * Specification"). Immutable; built by snapshot-load.ts from a checkpoint and commits.
 */
import type { Add, Metadata, Protocol, Remove } from './actions.ts';
import { type TableConfig, tableConfig } from './config.ts';
import type { LogState } from './log-replay.ts';
import type { StructType } from './schema.ts';
import { parseSchema } from './schema-json.ts';

const byPath = (a: { path: string }, b: { path: string }): number =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : 0;

export class Snapshot {
  readonly version: number;
  /** Commit timestamp of `version` (ms): commitInfo.timestamp, else the commit file's mtime. */
  readonly timestamp: number;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly schema: StructType;
  readonly partitionColumns: string[];
  /** Table properties with defaults applied (see config.ts). */
  readonly config: TableConfig;
  /** The table's location, for messages. */
  readonly table: string;
  /** The reconciled log state; shared read-only with later snapshots' loaders. */
  readonly state: LogState;
  private sortedFiles?: Add[];

  constructor(state: LogState, timestamp: number, table: string) {
    this.state = state;
    this.version = state.version;
    this.timestamp = timestamp;
    this.protocol = state.protocol!;
    this.metadata = state.metadata!;
    this.table = table;
    this.schema = parseSchema(this.metadata.schemaString, `table ${table} version ${state.version} metaData`);
    this.partitionColumns = this.metadata.partitionColumns ?? [];
    this.config = tableConfig(this.metadata.configuration ?? {}, { lenient: true });
  }

  /** Active data files (adds not removed), ordered by path. */
  files(): Add[] {
    this.sortedFiles ??= [...this.state.files.values()].sort(byPath);
    return this.sortedFiles;
  }

  /** The active add for a path, if any. */
  file(path: string): Add | undefined {
    return this.state.files.get(path);
  }

  /** Files removed and not re-added (tombstones, whether or not expired), ordered by path. */
  tombstones(): Remove[] {
    return [...this.state.tombstones.values()].sort(byPath);
  }

  /** The newest `txn.version` recorded for an application id. */
  txnVersion(appId: string): number | undefined {
    return this.state.txns.get(appId)?.version;
  }
}
