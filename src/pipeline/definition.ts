/**
 * A pipeline definition: what a pipeline reads, checks, transforms and writes, as data.
 * One model with two front ends: a YAML file (yaml.ts, errors with file, line and
 * column) and typed TypeScript (`definePipeline`). Both are checked by the same schema
 * (shape.ts) and the same semantic checks (check.ts), then compiled into the runtime's
 * parts (compile.ts). Keys are snake_case in both front ends, so one reference
 * (docs/pipelines.md) serves both.
 *
 * Names follow what users of other streaming systems know: `watermark` (Spark's
 * `withWatermark`, RisingWave's `WATERMARK FOR`), `tumble`/`hop` windows, `emit: final`
 * (`EMIT ON WINDOW CLOSE`) or `update` (Spark's update output mode).
 */

/** A duration: `'500ms'`, `'30s'`, `'2 minutes'`, `'1h'`, `'7 days'` (durations.ts). */
export type Duration = string;
/** A size in bytes: a number, or `'16MiB'`, `'1 GiB'`, `'512KiB'`. */
export type Size = number | string;

export interface PipelineDefinition {
  /** The pipeline's name: the first part of every progress marker its sinks commit. */
  name: string;
  description?: string;
  source: SourceDefinition;
  /**
   * How a topic's record bytes become rows (default `json`): `json` (one JSON object per
   * record) or `avro` (Confluent's wire format, read with the `avro` reader schema;
   * docs/avro.md). Not used by a table source.
   */
  format?: 'json' | 'avro';
  /** With `format: avro`: the reader schema the records are read into (their columns). */
  avro?: AvroDefinition;
  /**
   * The data contract records of a topic must meet; required for a topic source of JSON.
   * With `format: avro` the fields take their types from the reader schema and add rules
   * (default: the schema's fields, no further rules).
   */
  contract?: ContractDefinition;
  /** The event time of a record and how late records may arrive. */
  event_time?: EventTimeDefinition;
  /** Named steps between the source and the sinks, in order; each is a relation later steps and sinks read. */
  transforms?: TransformDefinition[];
  sinks: SinkDefinition[];
  /** The Delta tables the sinks write, with their layout, properties and upkeep. */
  tables?: TableDefinition[];
  /** Where rejected records go: `<source topic>.dlq` unless named. */
  dlq?: { topic?: string };
  /** Data-quality results: one record per batch and rule on a topic (docs/pipelines.md, "Quality results"). */
  quality?: QualityDefinition;
  /** How often table upkeep (compaction, checkpoint, vacuum) runs (default `1h`). */
  maintenance?: { every?: Duration };
  runtime?: RuntimeDefinition;
  /**
   * Where window and dedup state is kept: `global` (default), one state over all of the
   * source's partitions; `per_partition`, a state per source partition with its own
   * watermark, which moves with the partition between workers (needs `source.key`; each
   * window's `group_by` holds it). docs/scale-out.md.
   */
  state?: 'global' | 'per_partition';
}

export type SourceDefinition = TopicSourceDefinition | TableSourceDefinition;

/** A topic of the log: the embedded log or Kafka, chosen when the pipeline runs. */
export interface TopicSourceDefinition {
  topic: string;
  /** Partitions to create the topic with if it does not exist (default 4). */
  partitions?: number;
  /** Retention to create the topic with if it does not exist (default: the log's, unlimited for the embedded one). */
  retention?: Duration;
  /** Fill the topic from a PostgreSQL table's changes, beside the pipeline (docs/cdc.md). */
  capture?: CaptureDefinition;
  /**
   * The field (of the contract) the topic's producers key records by, so that all records
   * with one value of it are in one partition. Declared, not checked against the records'
   * keys; `state: per_partition` relies on it.
   */
  key?: string;
}

/**
 * Change data capture from a PostgreSQL table into the source topic, run by `tributary
 * run` in the same process as the pipeline. Keys of the other mode are ignored, so one
 * definition runs in both (`--capture polling|logical`).
 */
export interface CaptureDefinition {
  /** The source database: a URL, where `${NAME}` is replaced by environment variable NAME (a password must come that way). Absent: `--source`, `$TRIBUTARY_CDC_SOURCE`, else the data directory's embedded PostgreSQL. */
  postgres?: string;
  /** `name` or `schema.name` (schema `public`). */
  table: string;
  /** `polling` (default) or `logical` (replication; a real server only). */
  mode?: 'polling' | 'logical';
  /** Key columns (default: the primary key): the record key, and polling's tie-breaker. */
  key?: string[];
  /** `flat` (default: the row plus `__op`, `__pos`, ...) or `envelope` (Debezium's before/after/op/source). */
  format?: 'flat' | 'envelope';
  /** Where the capture keeps its position (default DATA_DIR/capture/<pipeline name>). */
  state_dir?: string;
  /** Polling: the timestamp column polled by (default `created_at`; `updated_at` captures updates too). */
  cursor?: string;
  /** Polling: time between polls that come back short (default `5s`). */
  poll_interval?: Duration;
  /** Polling: rows per poll at most (default 1000). */
  batch_limit?: number;
  /** Polling: read only rows whose cursor is at least this old (default `1s`; docs/cdc.md). */
  delay?: Duration;
  /** Logical: the replication slot (default `tributary_<pipeline name>`). */
  slot?: string;
  /** Logical: the publication (default `tributary_<pipeline name>`). */
  publication?: string;
  /** Logical: `initial` (default: the table's rows first, then its changes) or `never`. */
  snapshot?: 'initial' | 'never';
  /** Logical: write a heartbeat this often so an idle table does not hold WAL (default: off). */
  heartbeat?: Duration;
  /**
   * Format `flat`: `all` (default): the pipeline reads every column of the table, the
   * contract's fields with their rules and the others typed from PostgreSQL, and a column
   * added while it runs is added too (docs/cdc.md, "Schema changes"). `contract`: only the
   * contract's fields; other columns are ignored.
   */
  columns?: 'all' | 'contract';
}

/** A Delta table read as a stream: each new version's added rows, in order. */
export interface TableSourceDefinition {
  /** A table of this data directory (`tables/<name>`), or a path. */
  table: string;
}

/**
 * The reader schema of an Avro topic: records written with any schema the registry knows
 * are read into it (Avro schema resolution), so every writer version lands in one table
 * schema. One of `schema` and `subject`.
 */
export interface AvroDefinition {
  /** An `.avsc` file (relative to the definition's file), or the schema itself as JSON text. */
  schema?: string;
  /** A registry subject whose latest version, when the pipeline starts, is the reader schema (e.g. `sales.events.v1-value`). */
  subject?: string;
}

export interface ContractDefinition {
  name: string;
  /** `dlq` (default): a failing record goes to the dead-letter topic with its bytes and the reason. `tag`: kept, with a status and a reason column. */
  on_failure?: 'dlq' | 'tag';
  /** With `tag`: the status column (`SUCCESS` / `FAILED`; default `validation_status`). */
  status_column?: string;
  /** With `tag`: the reason column (null when valid; default `validation_reason`). */
  reason_column?: string;
  fields: FieldDefinition[];
}

/** `timestamp`: a JSON string `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]` (no offset: UTC), a TIMESTAMPTZ column. */
export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'timestamp';

export interface FieldDefinition {
  name: string;
  /** Required for JSON; with `format: avro` the schema's type (giving one that differs is an error). */
  type?: FieldType;
  /** Absent or null fails the record unless `required: false` (default true). */
  required?: boolean;
  enum?: string[];
  /** Inclusive bounds: numbers, or for a timestamp field timestamps (`'2020-01-01T00:00:00Z'`). */
  min?: number | string;
  max?: number | string;
  /** Numbers: at most this many digits after the point (money: 2). */
  decimals?: number;
  /** Numbers: read as an exact DECIMAL(precision, decimals) instead of a double; at most precision − decimals digits before the point. */
  precision?: number;
  /** A regular expression (RE2) the whole string must match. */
  pattern?: string;
  /** Strings: not empty, nor only spaces. */
  not_empty?: boolean;
  /** Arrays: the fields of each element (an object). */
  items?: FieldDefinition[];
  min_items?: number;
  /** Accept a value of another JSON type and convert it (off: it goes to the DLQ). */
  coerce?: boolean;
}

export interface EventTimeDefinition {
  /** SQL over an input row giving its event time (a column, or e.g. `to_timestamp(event_timestamp)`). */
  expr: string;
  /** How far behind the newest event time records may still arrive (default `0s`). */
  watermark?: Duration;
}

export type TransformDefinition =
  | SqlTransformDefinition
  | WindowTransformDefinition
  | DedupTransformDefinition;

/** Drops a record whose key was seen within `horizon` of event time (state kept per batch, like a window's). */
export interface DedupTransformDefinition {
  name: string;
  /** The relation deduplicated (default `input`): `input` or a SQL transform. */
  from?: string;
  dedup: {
    key: string;
    horizon: Duration;
    /** SQL over a row giving its event time (default: the pipeline's event time). */
    time?: string;
  };
}

/** SQL over the batch (DuckDB dialect): `input` is the source's rows; earlier transforms by name. */
export interface SqlTransformDefinition {
  name: string;
  sql: string;
}

export interface WindowTransformDefinition {
  name: string;
  /** The relation windowed (default `input`). */
  from?: string;
  window: {
    type: 'tumble' | 'hop';
    size: Duration;
    /** `hop` only. */
    slide?: Duration;
    /** A timestamp column of `from` (default: the pipeline's event time). */
    time?: string;
  };
  /** Watermark delay of this window (default: event_time's). */
  watermark?: Duration;
  group_by?: string[];
  /** Output column → aggregate: `count(*)`, `count(x)`, `count(distinct x)`, `sum(x)`, `min(x)`, `max(x)`, `avg(x)`. */
  aggregates: Record<string, string>;
  /** `final` (default): once, when the watermark passes the window's end. `update`: every batch, the new value of each window it touched. */
  emit?: 'final' | 'update';
  /** Records behind the watermark: `dlq` (default, reason `late`), `drop` (counted), or a side table. */
  late?: 'dlq' | 'drop' | { table: string };
}

export type SinkDefinition =
  | DeltaAppendSinkDefinition
  | DeltaMergeSinkDefinition
  | TopicSinkDefinition
  | PostgresSinkDefinition;

interface SinkBase {
  name: string;
  /** The relation written: `input` or a transform's name. */
  from: string;
}

export interface DeltaAppendSinkDefinition extends SinkBase {
  type: 'delta_append';
  table: string;
  /** Drop records whose key was written before (exact: checked against the table). */
  dedup?: {
    key: string;
    /** A timestamp column of the rows: how far back keys are held in memory is measured on it. */
    time: string;
    /** Keys newer than the newest time − horizon are held in memory; older ones are looked up in the table. */
    horizon: Duration;
    /** SQL type the key is held as in memory (e.g. `UUID`: 16 bytes instead of 36 characters). */
    key_type?: string;
  };
  /** Parquet codec of the files each batch writes (default zstd; `snappy` is cheaper when compaction rewrites them). */
  compression?: 'zstd' | 'snappy';
  file_size?: Size;
}

export interface DeltaMergeSinkDefinition extends SinkBase {
  type: 'delta_merge';
  table: string;
  /** The key columns: one row per key in the table. */
  key: string[];
  /** Which row wins among changes of one key: the largest by these columns, compared in order. */
  newest_by?: string[];
  /** SQL over `source.` and `target.` columns: replace a matched row only when true (default: always). */
  update_when?: string;
  /** SQL over `source.` and `target.` columns: delete the matched row when true. */
  delete_when?: string;
  /** SQL over `source.` columns: insert a row whose key is not in the table only when true (default: always; e.g. `NOT source.deleted`). */
  insert_when?: string;
  /** Merge at most this often; changes in between are combined (default `0s`: one MERGE after another). */
  commit_interval?: Duration;
  /** Merge early once this many changes are buffered (default 1,000,000). */
  max_buffered_rows?: number;
  /** Size of the files a MERGE writes. */
  file_size?: Size;
  /** Sort the rows of the files MERGEs write (keeps key ranges disjoint, so MERGEs skip files). */
  order_by?: string[];
  compression?: 'zstd' | 'snappy';
  /** Compaction between MERGEs of files that stopped changing. */
  compaction?: { every: Duration; older_than: Duration; file_size: Size };
}

export interface TopicSinkDefinition extends SinkBase {
  type: 'topic';
  topic: string;
  /**
   * `json` (default): each row one JSON object. `avro`: Confluent's wire format, with a
   * schema from the rows' columns (or `avro.schema`) registered under `<topic>-value`.
   */
  format?: 'json' | 'avro';
  /** With `format: avro`: the schema to write with (an `.avsc` file or JSON text; default: from the rows' column types). */
  avro?: { schema?: string };
  /** A column whose value is the record key (partitions by it, as Kafka does). */
  key?: string;
  /** Partitions to create the topic with if it does not exist (default: the source's). */
  partitions?: number;
}

/**
 * Rows upserted by key into a PostgreSQL table, with the sink's progress in the same
 * transaction (exactly once). The database is chosen at run time (`--postgres URL`, or the
 * embedded one).
 */
export interface PostgresSinkDefinition extends SinkBase {
  type: 'postgres';
  /** `schema.name` (schema `public` when absent); created with the rows' columns if it does not exist. */
  table: string;
  /** The key columns: the table's primary key, one row per key. */
  key: string[];
  /** PostgreSQL types of some columns, by name (default: from the rows' types, e.g. BIGINT → bigint). */
  column_types?: Record<string, string>;
  /** A `timestamptz` column set to the time of the transaction on every insert and update. */
  updated_at?: string;
}

export interface ColumnDefinition {
  name: string;
  /** A Delta type: `string`, `long`, `integer`, `double`, `boolean`, `date`, `timestamp`, `decimal(p,s)`, `array<…>`, `struct<name: type, …>`, `map<k, v>`. */
  type: string;
  nullable?: boolean;
}

export interface TableDefinition {
  name: string;
  /** Where the table lives: relative to the data directory's `tables/` (default: its name), or absolute. */
  path?: string;
  description?: string;
  /** The table's columns; when absent they are those of the rows its sink writes (`not_null` marks required ones). */
  columns?: ColumnDefinition[];
  /** With inferred columns: the columns that may not be null. */
  not_null?: string[];
  /** Partition columns: a column of the rows, or `{ name: expr }` with `hour(col)`, `date(col)`, `bucket(n, col)` or any SQL. */
  partition_by?: Array<string | Record<string, string>>;
  /** Delta table properties (`delta.deletedFileRetentionDuration`, …). */
  properties?: Record<string, string>;
  /** Write a checkpoint every this many commits (default 10). */
  checkpoint_interval?: number;
  /**
   * `strict`: rows with a column the table lacks are refused (TABLE_SCHEMA_MISMATCH).
   * `evolve`: such columns are added to the table as nullable columns (schema evolution).
   * Default: `evolve` when the source is a capture reading all columns, else `strict`.
   */
  schema?: 'strict' | 'evolve';
  /** Table upkeep, run every `maintenance.every` of the pipeline. */
  maintenance?: {
    /** Compact into files of about this size (default 128 MiB). */
    file_size?: Size;
    /** Compact only files at least this old. */
    older_than?: Duration;
    /** Sort compacted files by these columns. */
    order_by?: string[];
    /** VACUUM files unreferenced for this long (default: the table's delta.deletedFileRetentionDuration). */
    vacuum_retention?: Duration;
  };
}

/**
 * Each batch, one JSON record per rule it was checked against (the contract's rules, each
 * dedup's `unique`, each window's `on_time`) with the records passed and failed and
 * sample ids of failing records, exactly once.
 */
export interface QualityDefinition {
  /** The topic the results go to (created if absent; pipelines may share it). */
  topic: string;
  /** Sample ids per result, at most (default 5; 0: none). */
  samples?: number;
  /** A column of `input` naming a failing record in the samples (default: none, its `partition/offset`). */
  sample_id?: string;
  /** Partitions to create the topic with if it does not exist (default 1). */
  partitions?: number;
}

export interface RuntimeDefinition {
  /** Minimum time between batches when caught up (default `200ms`). */
  trigger?: Duration;
  /** At most this many records per batch (default 200,000). */
  max_records_per_batch?: number;
  max_bytes_per_batch?: Size;
  /** Read the next batch while the sinks write the current one (default true). */
  read_ahead?: boolean;
  /** DuckDB threads (default 1: the runtime runs several statements at once). */
  duckdb_threads?: number;
}

/** The TypeScript front end: the definition, typed; checked like a YAML file when run. */
export function definePipeline(def: PipelineDefinition): PipelineDefinition {
  return def;
}
