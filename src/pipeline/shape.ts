/**
 * The shape of a pipeline definition, checked key by key: unknown keys are errors (a
 * misspelt key silently ignored is a setting silently not applied), and each problem
 * carries the path to the offending value, which the YAML front end turns into a file,
 * line and column (yaml.ts).
 */
import { parseDuration, parseSize } from './durations.ts';

export type Path = ReadonlyArray<string | number>;

export interface Problem {
  path: Path;
  message: string;
  /** Point at the key itself (an unknown key) rather than its value. */
  atKey?: boolean;
}

type Shape =
  | { t: 'string'; oneOf?: readonly string[]; identifier?: boolean }
  | { t: 'int'; min: number }
  | { t: 'number' }
  | { t: 'boolean' }
  | { t: 'duration' }
  | { t: 'size' }
  | { t: 'array'; of: Shape; nonEmpty?: boolean }
  | { t: 'record'; of: Shape; nonEmpty?: boolean }
  | { t: 'object'; fields: Record<string, Field> }
  /** Alternatives told apart by a key they hold (`by`), or by their JSON kind. */
  | { t: 'union'; what: string; pick: (v: unknown) => Shape | string }
  | { t: 'lazy'; get: () => Shape };

interface Field {
  shape: Shape;
  required?: boolean;
}

const str = (oneOf?: readonly string[]): Shape => ({ t: 'string', oneOf });
const ident: Shape = { t: 'string', identifier: true };
const int = (min = 0): Shape => ({ t: 'int', min });
const bool: Shape = { t: 'boolean' };
const num: Shape = { t: 'number' };
const duration: Shape = { t: 'duration' };
const size: Shape = { t: 'size' };
const arr = (of: Shape, nonEmpty = false): Shape => ({ t: 'array', of, nonEmpty });
const obj = (fields: Record<string, Field | Shape>): Shape => ({
  t: 'object',
  fields: Object.fromEntries(
    Object.entries(fields).map(([k, f]) => [k, 'shape' in f ? f : { shape: f as Shape }]),
  ),
});
const req = (shape: Shape): Field => ({ shape, required: true });

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** A contract bound: a number, or a timestamp's text (which fits the field's type: contractProblems). */
const BOUND: Shape = {
  t: 'union',
  what: 'a number or a timestamp',
  pick: (v) => (typeof v === 'string' ? str() : num),
};

const FIELD: Shape = obj({
  name: req(ident),
  // Required for JSON (plan.ts says so); format avro takes it from the schema.
  type: str(['string', 'integer', 'number', 'boolean', 'array', 'object', 'timestamp']),
  required: bool,
  enum: arr(str(), true),
  min: BOUND,
  max: BOUND,
  decimals: int(),
  precision: int(1),
  pattern: str(),
  not_empty: bool,
  items: arr({ t: 'lazy', get: () => FIELD }, true),
  min_items: int(),
  coerce: bool,
});

const SQL_TRANSFORM = obj({ name: req(ident), sql: req(str()) });
const WINDOW_TRANSFORM = obj({
  name: req(ident),
  from: ident,
  window: req(
    obj({
      type: req(str(['tumble', 'hop'])),
      size: req(duration),
      slide: duration,
      time: ident,
    }),
  ),
  watermark: duration,
  group_by: arr(ident),
  aggregates: req({ t: 'record', of: str(), nonEmpty: true }),
  emit: str(['final', 'update']),
  late: {
    t: 'union',
    what: "'dlq', 'drop' or { table: NAME }",
    pick: (v) => (typeof v === 'string' ? str(['dlq', 'drop']) : obj({ table: req(ident) })),
  },
});

const DEDUP_TRANSFORM = obj({
  name: req(ident),
  from: ident,
  dedup: req(obj({ key: req(ident), horizon: req(duration), time: str() })),
});

const SINK_BASE = { name: req(ident), from: req(ident) };
const COMPRESSION = str(['zstd', 'snappy']);
const SINKS: Record<string, Shape> = {
  delta_append: obj({
    ...SINK_BASE,
    type: req(str()),
    table: req(ident),
    dedup: obj({ key: req(ident), time: req(ident), horizon: req(duration), key_type: str() }),
    compression: COMPRESSION,
    file_size: size,
  }),
  delta_merge: obj({
    ...SINK_BASE,
    type: req(str()),
    table: req(ident),
    key: req(arr(ident, true)),
    newest_by: arr(str(), true),
    update_when: str(),
    delete_when: str(),
    insert_when: str(),
    commit_interval: duration,
    max_buffered_rows: int(1),
    file_size: size,
    order_by: arr(ident, true),
    compression: COMPRESSION,
    compaction: obj({ every: req(duration), older_than: req(duration), file_size: req(size) }),
  }),
  topic: obj({
    ...SINK_BASE,
    type: req(str()),
    topic: req(str()),
    key: ident,
    partitions: int(1),
    format: str(['json', 'avro']),
    avro: obj({ schema: str() }),
  }),
  postgres: obj({
    ...SINK_BASE,
    type: req(str()),
    table: req(str()),
    key: req(arr(ident, true)),
    column_types: { t: 'record', of: str() },
    updated_at: ident,
  }),
};

const TABLE = obj({
  name: req(ident),
  path: str(),
  description: str(),
  columns: arr(obj({ name: req(ident), type: req(str()), nullable: bool }), true),
  not_null: arr(ident),
  partition_by: arr({
    t: 'union',
    what: 'a column name or { name: expression }',
    pick: (v) => (typeof v === 'string' ? ident : { t: 'record', of: str(), nonEmpty: true }),
  }),
  properties: { t: 'record', of: str() },
  checkpoint_interval: int(1),
  schema: str(['strict', 'evolve']),
  maintenance: obj({
    file_size: size,
    older_than: duration,
    order_by: arr(ident, true),
    vacuum_retention: duration,
  }),
});

const CAPTURE = obj({
  postgres: str(),
  table: req(str()),
  mode: str(['polling', 'logical']),
  key: arr(ident, true),
  format: str(['flat', 'envelope']),
  state_dir: str(),
  cursor: ident,
  poll_interval: duration,
  batch_limit: int(1),
  delay: duration,
  slot: ident,
  publication: ident,
  snapshot: str(['initial', 'never']),
  heartbeat: duration,
  columns: str(['all', 'contract']),
});

export const DEFINITION: Shape = obj({
  name: req(ident),
  description: str(),
  source: req({
    t: 'union',
    what: '{ topic: NAME } or { table: NAME }',
    pick: (v) => {
      if (isObject(v) && 'topic' in v)
        return obj({
          topic: req(str()),
          partitions: int(1),
          retention: duration,
          capture: CAPTURE,
          key: ident,
        });
      if (isObject(v) && 'table' in v) return obj({ table: req(str()) });
      const got = isObject(v) ? `the keys ${Object.keys(v).join(', ')}` : kind(v);
      return `expected { topic: NAME } (a topic of the log) or { table: NAME } (a Delta table read as a stream), got ${got}`;
    },
  }),
  format: str(['json', 'avro']),
  avro: obj({ schema: str(), subject: str() }),
  contract: obj({
    name: req(str()),
    on_failure: str(['dlq', 'tag']),
    status_column: ident,
    reason_column: ident,
    fields: req(arr(FIELD, true)),
  }),
  event_time: obj({ expr: req(str()), watermark: duration }),
  transforms: arr({
    t: 'union',
    what: 'a SQL transform { name, sql }, a window { name, window, aggregates, … } or a dedup { name, dedup }',
    pick: (v) => {
      if (isObject(v) && 'window' in v) return WINDOW_TRANSFORM;
      if (isObject(v) && 'dedup' in v) return DEDUP_TRANSFORM;
      if (isObject(v) && 'sql' in v) return SQL_TRANSFORM;
      return "expected a transform with 'sql' (SQL over the batch), 'window' (an event-time window) or 'dedup' (drop repeated keys)";
    },
  }),
  sinks: req(
    arr(
      {
        t: 'union',
        what: 'a sink',
        pick: (v) => {
          const type = isObject(v) ? v.type : undefined;
          if (typeof type === 'string' && type in SINKS) return SINKS[type];
          return `expected 'type' to be one of ${Object.keys(SINKS).join(', ')}${type === undefined ? '' : `, got ${JSON.stringify(type)}`}`;
        },
      },
      true,
    ),
  ),
  tables: arr(TABLE),
  dlq: obj({ topic: str() }),
  quality: obj({ topic: req(str()), samples: int(), sample_id: ident, partitions: int(1) }),
  maintenance: obj({ every: duration }),
  state: str(['global', 'per_partition']),
  runtime: obj({
    trigger: duration,
    max_records_per_batch: int(1),
    max_bytes_per_batch: size,
    read_ahead: bool,
    duckdb_threads: int(1),
  }),
});

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Every problem of `value` against `shape`, in document order. */
export function checkShape(value: unknown, shape: Shape = DEFINITION, path: Path = []): Problem[] {
  const out: Problem[] = [];
  const bad = (message: string) => out.push({ path, message });
  switch (shape.t) {
    case 'lazy':
      return checkShape(value, shape.get(), path);
    case 'string':
      if (typeof value !== 'string') bad(`expected text, got ${kind(value)}`);
      else if (shape.oneOf && !shape.oneOf.includes(value))
        bad(`expected one of ${shape.oneOf.join(', ')}, got ${JSON.stringify(value)}`);
      else if (shape.identifier && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value))
        bad(
          `expected a name (letters, digits and _; not starting with a digit), got ${JSON.stringify(value)}`,
        );
      break;
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < shape.min)
        bad(`expected a whole number ≥ ${shape.min}, got ${kind(value)}`);
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad(`expected a number, got ${kind(value)}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') bad(`expected true or false, got ${kind(value)}`);
      break;
    case 'duration':
      try {
        parseDuration(value);
      } catch (err) {
        bad((err as Error).message);
      }
      break;
    case 'size':
      try {
        parseSize(value);
      } catch (err) {
        bad((err as Error).message);
      }
      break;
    case 'array':
      if (!Array.isArray(value)) bad(`expected a list, got ${kind(value)}`);
      else if (shape.nonEmpty && value.length === 0)
        bad('expected a list of at least one entry, got an empty list');
      else
        value.forEach((v, i) => {
          out.push(...checkShape(v, shape.of, [...path, i]));
        });
      break;
    case 'record':
      if (!isObject(value)) bad(`expected a mapping, got ${kind(value)}`);
      else if (shape.nonEmpty && Object.keys(value).length === 0) bad('expected at least one entry');
      else for (const [k, v] of Object.entries(value)) out.push(...checkShape(v, shape.of, [...path, k]));
      break;
    case 'object': {
      if (!isObject(value)) {
        bad(`expected a mapping, got ${kind(value)}`);
        break;
      }
      const known = Object.keys(shape.fields);
      for (const [k, v] of Object.entries(value)) {
        const f = shape.fields[k];
        if (f === undefined) {
          const near = known.find((n) => similar(n, k));
          out.push({
            path: [...path, k],
            atKey: true,
            message: `unknown key '${k}'${near ? ` (did you mean '${near}'?)` : ''}; expected one of: ${known.join(', ')}`,
          });
        } else if (v !== undefined) {
          out.push(...checkShape(v, f.shape, [...path, k]));
        }
      }
      for (const [k, f] of Object.entries(shape.fields)) {
        if (f.required && value[k] === undefined) bad(`missing required key '${k}'`);
      }
      break;
    }
    case 'union': {
      const picked = shape.pick(value);
      if (typeof picked === 'string') bad(picked);
      else out.push(...checkShape(value, picked, path));
      break;
    }
  }
  return out;
}

/** Two names one edit apart, or equal but for case and separators. */
function similar(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[-_ ]/g, '');
  if (norm(a) === norm(b)) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  return Math.max(a.length, b.length) - i - j <= 1;
}

/** `sinks[1].key`, for messages. */
export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s || '(the definition)';
}
