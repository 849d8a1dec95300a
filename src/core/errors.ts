/**
 * One error class for the whole project. Every error has a stable code from the
 * catalog below (documented in docs/errors.md), a domain that says whose fault it is,
 * and whether retrying the same operation can help.
 *
 * - `user`: bad input or configuration; the message says what to change.
 * - `external`: a service or the storage misbehaved (network, broker, disk).
 * - `internal`: a bug or a broken invariant in Tributary itself.
 */
export type ErrorDomain = 'user' | 'external' | 'internal';

export interface ErrorSpec {
  domain: ErrorDomain;
  retryable: boolean;
  summary: string;
}

export const ERROR_CODES = {
  // storage
  STORAGE_NOT_FOUND: { domain: 'user', retryable: false, summary: 'an object or file does not exist' },
  STORAGE_ALREADY_EXISTS: {
    domain: 'external',
    retryable: false,
    summary: 'put-if-absent found the object already there',
  },
  STORAGE_IO: { domain: 'external', retryable: true, summary: 'the storage backend failed' },
  STORAGE_INVALID_PATH: { domain: 'user', retryable: false, summary: 'an object path is not valid' },
  // table (Delta Lake)
  TABLE_NOT_FOUND: { domain: 'user', retryable: false, summary: 'no Delta table at the location' },
  TABLE_ALREADY_EXISTS: { domain: 'user', retryable: false, summary: 'a Delta table is already there' },
  TABLE_CORRUPT_LOG: { domain: 'external', retryable: false, summary: 'the Delta log is unreadable' },
  TABLE_MISSING_FILE: {
    domain: 'external',
    retryable: false,
    summary: 'a data file the log references is missing',
  },
  TABLE_UNSUPPORTED_PROTOCOL: {
    domain: 'user',
    retryable: false,
    summary: 'the table needs a newer reader or writer',
  },
  TABLE_SCHEMA_MISMATCH: { domain: 'user', retryable: false, summary: 'data does not fit the table schema' },
  TABLE_INVALID_SCHEMA: { domain: 'user', retryable: false, summary: 'a schema definition is invalid' },
  TABLE_COMMIT_CONFLICT: {
    domain: 'external',
    retryable: true,
    summary: 'a concurrent commit conflicts with this one',
  },
  TABLE_COMMIT_OUTCOME_UNKNOWN: {
    domain: 'external',
    retryable: true,
    summary: 'storage failed so that it is unknown whether a commit landed; its files were kept',
  },
  TABLE_VERSION_NOT_FOUND: {
    domain: 'user',
    retryable: false,
    summary: 'the requested table version or timestamp does not exist',
  },
  TABLE_INVALID_ARGUMENT: {
    domain: 'user',
    retryable: false,
    summary: 'an operation was called with invalid arguments',
  },
  // log (embedded log and Kafka)
  LOG_TOPIC_NOT_FOUND: { domain: 'user', retryable: false, summary: 'the topic does not exist' },
  LOG_TOPIC_EXISTS: { domain: 'user', retryable: false, summary: 'the topic already exists' },
  LOG_PARTITION_NOT_FOUND: { domain: 'user', retryable: false, summary: 'the partition does not exist' },
  LOG_OFFSET_OUT_OF_RANGE: {
    domain: 'user',
    retryable: false,
    summary: 'the offset is before the earliest or after the latest',
  },
  LOG_CORRUPT: { domain: 'external', retryable: false, summary: 'a log segment failed its checksum' },
  LOG_LOCKED: {
    domain: 'external',
    retryable: true,
    summary: 'another process holds the partition write lock',
  },
  LOG_BROKER: { domain: 'external', retryable: true, summary: 'the Kafka broker failed or is unreachable' },
  // input and configuration
  INPUT_INVALID: { domain: 'user', retryable: false, summary: 'an input file or record is malformed' },
  // query (SQL over tables)
  QUERY_INVALID: {
    domain: 'user',
    retryable: false,
    summary: 'the SQL text is invalid or DuckDB rejected it',
  },
  CONFIG_INVALID: { domain: 'user', retryable: false, summary: 'a configuration value is invalid' },
  SOURCE_UNSUPPORTED_CHANGE: {
    domain: 'user',
    retryable: false,
    summary: 'a table read as a stream has a version that removes or rewrites rows',
  },
  PIPELINE_INVALID: {
    domain: 'user',
    retryable: false,
    summary: 'a pipeline definition is invalid (the message gives the file, line and what to change)',
  },
  // SQL models and expectations (src/jobs/models/)
  MODEL_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      'a models project is invalid: a config, a reference, a cycle or a selection (the message gives the file, line and what to change)',
  },
  MODEL_FAILED: {
    domain: 'user',
    retryable: false,
    summary:
      "a model's SQL failed on DuckDB, or its output does not fit its table; the message names the model and DuckDB's reason",
  },
  // PostgreSQL (the serving sink and the embedded server; src/connectors/postgres/)
  POSTGRES_UNAVAILABLE: {
    domain: 'external',
    retryable: true,
    summary:
      'PostgreSQL cannot be reached or dropped the connection; a running pipeline waits and retries without limit (its lag grows), and resumes when it is back; at start, `run` and `demo` stop instead (check the URL and that the server runs)',
  },
  POSTGRES_AUTH: {
    domain: 'user',
    retryable: false,
    summary:
      'PostgreSQL refused the login: a wrong user or password, no password where the server asks for one, or pg_hba.conf does not allow it',
  },
  POSTGRES_TABLE_INCOMPATIBLE: {
    domain: 'user',
    retryable: false,
    summary: 'a PostgreSQL table a sink writes exists with columns, types or a key the sink cannot use',
  },
  POSTGRES_PROGRESS_MOVED: {
    domain: 'external',
    retryable: true,
    summary:
      "a sink's progress in PostgreSQL moved under it (a commit whose answer was lost landed, or another process writes with the same sink); it reloads and goes on",
  },
  POSTGRES_EMBEDDED_IN_USE: {
    domain: 'user',
    retryable: false,
    summary: 'the embedded PostgreSQL of this data directory is open in another process',
  },
  POSTGRES_FAILED: {
    domain: 'user',
    retryable: false,
    summary:
      'PostgreSQL refused a statement (a value out of range, a constraint broken, a missing database); the message has its SQLSTATE',
  },
  // change capture from PostgreSQL, polling and logical replication
  // (src/connectors/postgres/capture/, docs/cdc.md)
  CAPTURE_LOGICAL_UNSUPPORTED: {
    domain: 'user',
    retryable: false,
    summary:
      'the server cannot do logical replication: the embedded PostgreSQL (PGlite; capture with polling), wal_level not logical (set it and restart), or no free replication slot or WAL sender',
  },
  CAPTURE_PERMISSION_DENIED: {
    domain: 'user',
    retryable: false,
    summary:
      'the role may not do what the capture needs: replicate (ALTER ROLE ... REPLICATION), read the table (GRANT SELECT), or create the missing publication (the message gives the statement for an administrator)',
  },
  CAPTURE_PUBLICATION_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      "the capture's publication does not publish the table or its inserts, updates and deletes, or was dropped; the message gives the ALTER/CREATE PUBLICATION statement",
  },
  CAPTURE_TABLE_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      'the table to capture is missing, cannot be read, or lacks what the capture needs (a key: a primary key or one given; polling: its cursor column; logical replication: REPLICA IDENTITY FULL); the message says what to change',
  },
  CAPTURE_SLOT_IN_USE: {
    domain: 'external',
    retryable: true,
    summary:
      "the capture's replication slot is held by another process (active_pid), or a slot of that name exists that is not this capture's; never taken over: stop the other process or choose another slot name",
  },
  CAPTURE_SLOT_LOST: {
    domain: 'user',
    retryable: false,
    summary:
      "the capture's replication slot was dropped or invalidated (WAL it needed removed): the changes since cannot be captured; delete the state directory to start over with a snapshot",
  },
  CAPTURE_STATE_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      "a capture's saved state is unreadable, or belongs to a capture of another table, cursor, key, topic or slot; the message names the file or directory to delete or rename",
  },
  // change capture, schema changes (src/pipeline/capture-schema.ts, docs/cdc.md "Schema changes")
  CAPTURE_SCHEMA_CHANGED: {
    domain: 'user',
    retryable: false,
    summary:
      'a column of the captured table was dropped, or changed to a type the pipeline reads differently: the capture stopped before publishing such a change, once the pipeline landed everything before it; the message says what the lake keeps and what to do',
  },
  // Avro schemas and the schema registry (src/connectors/avro/, src/server/registry/, docs/registry.md)
  SCHEMA_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      'an Avro schema does not parse, or breaks a rule of the Avro specification; the message says where',
  },
  SCHEMA_NOT_FOUND: {
    domain: 'user',
    retryable: false,
    summary: 'the schema registry has no such schema id, subject or version',
  },
  SCHEMA_INCOMPATIBLE: {
    domain: 'user',
    retryable: false,
    summary:
      "a schema breaks the subject's compatibility mode against an earlier version; the message names the field and the reason",
  },
  REGISTRY_UNAVAILABLE: {
    domain: 'external',
    retryable: true,
    summary: 'the schema registry did not answer, or answered with a server error',
  },
  // the schema registry server (src/server/registry/, docs/registry.md)
  REGISTRY_REQUEST_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      'a request to the schema registry cannot be taken: an invalid version, compatibility level or mode, or a delete out of order (permanent before soft); the message says which',
  },
  REGISTRY_STORE_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      "the registry's topic holds records the registry did not write (another registry's `_schemas`?): give it a topic of its own (`--topic`)",
  },
  // DuckDB (the engine under decoding, sinks and the table layer; src/table/duckdb-errors.ts)
  DUCKDB_OUT_OF_MEMORY: {
    domain: 'external',
    retryable: true,
    summary: 'DuckDB ran out of memory; smaller batches or more memory help if it persists',
  },
  DUCKDB_IO: {
    domain: 'external',
    retryable: true,
    summary: 'DuckDB could not read or write a local file (scratch, staging, spill)',
  },
  DUCKDB_INTERRUPTED: { domain: 'external', retryable: true, summary: 'a DuckDB statement was interrupted' },
  DUCKDB_CONFLICT: {
    domain: 'external',
    retryable: true,
    summary: 'a DuckDB statement conflicted with a concurrent one',
  },
  DUCKDB_DATA: {
    domain: 'user',
    retryable: false,
    summary:
      'a value did not convert or broke a constraint in DuckDB: the data does not fit the SQL processing it',
  },
  DUCKDB_SQL: {
    domain: 'internal',
    retryable: false,
    summary: 'DuckDB rejected a statement (binder, catalog, parser): fix your SQL in it, or report a bug',
  },
  DUCKDB_FAILED: {
    domain: 'internal',
    retryable: false,
    summary: 'DuckDB failed internally; restart the process, report it if it recurs',
  },
  // jobs (the scheduler: src/jobs/scheduler/, docs/jobs.md)
  JOB_INVALID: {
    domain: 'user',
    retryable: false,
    summary: 'a job definition is invalid (the message gives the file, line and what to change)',
  },
  JOB_NOT_FOUND: { domain: 'user', retryable: false, summary: 'no job of that name in the project' },
  JOB_ALREADY_RUNNING: {
    domain: 'external',
    retryable: true,
    summary: 'a run of the job is still going on (runs of one job never overlap); try again when it ends',
  },
  JOB_TASK_TIMEOUT: {
    domain: 'external',
    retryable: true,
    summary: 'a task ran longer than its timeout; it is failed and its work abandoned (docs/jobs.md)',
  },
  // the HTTP server (src/server/, docs/serving.md); each code's HTTP status is in
  // src/server/http-errors.ts
  AUTH_REQUIRED: {
    domain: 'user',
    retryable: false,
    summary:
      'the request has no bearer token (HTTP 401): send `Authorization: Bearer <token>` (`tributary token create` makes one)',
  },
  AUTH_TOKEN_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      'the bearer token was refused (HTTP 401): malformed, expired, not yet valid, unsigned (alg none), signed with another key or algorithm, or for another issuer or audience; the message says which',
  },
  AUTH_FORBIDDEN: {
    domain: 'user',
    retryable: false,
    summary: "the token's role may not do this (HTTP 403); the message names the role the route needs",
  },
  AUTH_KEYS_UNAVAILABLE: {
    domain: 'external',
    retryable: true,
    summary: 'the JWKS URL that holds the identity provider’s keys did not answer with keys (HTTP 503)',
  },
  HTTP_REQUEST_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      'an HTTP request does not fit its route (HTTP 400): a parameter, a filter, a cursor or the body; the message names the field',
  },
  HTTP_NOT_FOUND: {
    domain: 'user',
    retryable: false,
    summary: 'no route for this method and path (HTTP 404)',
  },
  HTTP_BODY_TOO_LARGE: {
    domain: 'user',
    retryable: false,
    summary: "the request body is larger than the server's limit (HTTP 413; `--body-limit`)",
  },
  HTTP_UNSUPPORTED_MEDIA_TYPE: {
    domain: 'user',
    retryable: false,
    summary: 'the request body has a content type the route does not take (HTTP 415)',
  },
  HTTP_BUSY: {
    domain: 'external',
    retryable: true,
    summary:
      'the server runs as many queries as it may and its queue is full (HTTP 503 with Retry-After); try again shortly',
  },
  HTTP_TIMEOUT: {
    domain: 'external',
    retryable: true,
    summary:
      "a request ran longer than the server's time limit and was stopped (HTTP 503; `--request-timeout`); narrow it (filters, fewer rows) or raise the limit",
  },
  // the SQL sandbox (src/query/sandbox*.ts, docs/sql.md "SQL sandbox")
  QUERY_REFUSED: {
    domain: 'user',
    retryable: false,
    summary:
      'the SQL sandbox refused a query: it must be one SELECT over the lake tables by name, calling allowed functions only; the message names the rule broken (a function, a statement, a table)',
  },
  QUERY_TIMEOUT: {
    domain: 'user',
    retryable: false,
    summary:
      'a sandboxed query ran longer than its time limit and was interrupted; filter or aggregate more, or ask for a longer limit',
  },
  QUERY_MEMORY_LIMIT: {
    domain: 'user',
    retryable: false,
    summary:
      'a sandboxed query needed more memory than its limit (nothing spills to disk in the sandbox); filter or aggregate more, or ask for a higher limit',
  },
  // HTTP ingest, pipelines' status and metrics (src/server/ingest/, src/server/pipelines/,
  // docs/serving.md); each code's HTTP status is in src/server/http-errors.ts
  INGEST_RECORDS_INVALID: {
    domain: 'user',
    retryable: false,
    summary:
      'records POSTed to a topic are not JSON, or not of the form asked for (HTTP 400); the answer lists each by its position (`index`, and `line` for NDJSON) and none of the batch was written',
  },
  INGEST_BUSY: {
    domain: 'external',
    retryable: true,
    summary:
      'the server holds as many ingest bytes or records not yet durable as it may (HTTP 429 with Retry-After); send again after the pause, or send smaller batches',
  },
  INGEST_IDEMPOTENCY_KEY_REUSED: {
    domain: 'user',
    retryable: false,
    summary:
      'an Idempotency-Key was sent again with another body or to another topic (HTTP 422); a key stands for one batch: use a new key for new records',
  },
  // the jobs API (src/server/jobs/, docs/serving.md "Jobs")
  JOB_RUN_NOT_FOUND: {
    domain: 'user',
    retryable: false,
    summary: 'no run of that id in the job’s history (HTTP 404); list the job’s runs to find one',
  },
  // idempotency keys shared by several servers on one log (src/server/ingest/idempotency.ts)
  INGEST_IDEMPOTENCY_KEY_IN_PROGRESS: {
    domain: 'external',
    retryable: true,
    summary:
      'another server on the same log holds this Idempotency-Key and has not finished writing its request (HTTP 409 with Retry-After); send the request again with the same key after the pause',
  },
  PIPELINE_NOT_FOUND: {
    domain: 'user',
    retryable: false,
    summary: 'no pipeline of that name runs in the server’s process (HTTP 404)',
  },
  // scale-out: consumer-group workers (src/log/kafka/membership.ts, docs/scale-out.md)
  TABLE_PROGRESS_FENCED: {
    domain: 'external',
    retryable: true,
    summary:
      'a stream commit expected its source progress in the table to be where it left it, and another writer moved it (a worker that lost its partitions to another): nothing is committed; the worker reloads its progress',
  },
  GROUP_MEMBERSHIP_LOST: {
    domain: 'external',
    retryable: true,
    summary:
      'a worker had no answer from its consumer group for its session timeout (a long pause, a network cut) and may have lost its partitions: the batch is dropped before its dead letters are written; the worker releases its partitions and joins again',
  },
  STATE_PLAN_TAKEN: {
    domain: 'external',
    retryable: true,
    summary:
      "a batch plan of a source partition's window or dedup state was written by another worker first (one that lost the partition and had not noticed yet): this batch is not committed; the worker reloads the partition's state, replays that plan and carries on",
  },
  // fenced transactional writers: the DLQ writer of a source partition (src/log/kafka/transactions.ts, docs/scale-out.md)
  LOG_WRITER_FENCED: {
    domain: 'external',
    retryable: true,
    summary:
      'another process claimed this writer (a Kafka transactional id, e.g. the DLQ writer of a source partition a worker lost to another): its open transaction was aborted and it writes nothing more; a worker releases its partitions and joins its group again',
  },
  // anything else
  INTERNAL: { domain: 'internal', retryable: false, summary: 'a bug in Tributary' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly domain: ErrorDomain;
  readonly retryable: boolean;
  /** Structured context (table path, topic, offset, column, ...) for logs and APIs. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TributaryError';
    this.code = code;
    this.domain = ERROR_CODES[code].domain;
    this.retryable = ERROR_CODES[code].retryable;
    this.details = details;
  }
}

export function isTributaryError(err: unknown, code?: ErrorCode): err is TributaryError {
  return err instanceof TributaryError && (code === undefined || err.code === code);
}
