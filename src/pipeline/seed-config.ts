/**
 * Seed 003's configuration file (`configs/orders_stream.yml`: database, table, poll
 * interval, batch limit, Kafka, paths) accepted as a pipeline definition: recognised by
 * its shape (a `postgres` and a `kafka` section, no `sinks`) and translated into the
 * built-in food-orders pipeline (pipelines/cdc.yaml) with its settings. The password
 * must be an environment variable reference (`password: ${POSTGRES_PASSWORD}`): it is
 * put into the capture's URL as a reference, read only when the capture connects, and
 * never printed. configs/orders_stream.yml is the example; docs/cdc.md the reference.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { PipelineDefinition } from './definition.ts';
import type { Path, Problem } from './shape.ts';

const CDC_YAML = join(import.meta.dirname, '..', '..', 'pipelines', 'cdc.yaml');

type Section = Record<string, unknown>;

const isObject = (v: unknown): v is Section => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Keys of each section, with the spellings the seed's producer and consumer read. */
const KEYS: Record<string, readonly string[]> = {
  postgres: ['host', 'port', 'database', 'user', 'password', 'table', 'schema', 'sslmode'],
  cdc: [
    'poll_interval',
    'poll_interval_seconds',
    'batch_limit',
    'cursor',
    'timestamp_column',
    'key',
    'mode',
    'state_path',
    'delay',
  ],
  kafka: ['bootstrap_servers', 'topic', 'partitions', 'consumer_group', 'replication_factor'],
  streaming: [
    'output_path',
    'failed_path',
    'current_path',
    'checkpoint_location',
    'trigger_interval',
    'max_offsets_per_trigger',
  ],
};

/** Whether a parsed YAML document is a seed configuration rather than a definition. */
export function isSeedConfig(doc: unknown): doc is Section {
  return (
    isObject(doc) && isObject(doc.postgres) && isObject(doc.kafka) && !('sinks' in doc) && !('source' in doc)
  );
}

export interface SeedConfigResult {
  definition: PipelineDefinition;
  problems: Problem[];
  /** The log to use unless the command line names one: the config's Kafka bootstrap servers. */
  kafka?: string;
  /** What was read and what is not needed, for the operator. */
  notes: string[];
}

const ENV_REF = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/** `5` (seconds), `'5s'`, `'5 seconds'` as a duration text. */
function seconds(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return `${v}s`;
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  return undefined;
}

export function fromSeedConfig(config: Section): SeedConfigResult {
  const problems: Problem[] = [];
  const notes: string[] = [];
  const bad = (path: Path, message: string, atKey = false) =>
    problems.push({ path, message, ...(atKey && { atKey }) });
  for (const [name, v] of Object.entries(config)) {
    if (!(name in KEYS)) {
      bad(
        [name],
        `unknown section '${name}' of the seed configuration; expected ${Object.keys(KEYS).join(', ')}`,
        true,
      );
      continue;
    }
    if (!isObject(v)) {
      bad([name], `expected a mapping`);
      continue;
    }
    for (const k of Object.keys(v)) {
      if (!KEYS[name].includes(k))
        bad([name, k], `unknown key '${k}'; expected one of: ${KEYS[name].join(', ')}`, true);
    }
  }
  const pg = config.postgres as Section;
  const cdc = isObject(config.cdc) ? config.cdc : {};
  const kafka = config.kafka as Section;
  const streaming = isObject(config.streaming) ? config.streaming : {};
  const text = (s: Section, key: string, path: Path): string | undefined => {
    const v = s[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    bad(path, `expected text, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const host = text(pg, 'host', ['postgres', 'host']) ?? 'localhost';
  const port = text(pg, 'port', ['postgres', 'port']) ?? '5432';
  const database = text(pg, 'database', ['postgres', 'database']);
  const user = text(pg, 'user', ['postgres', 'user']);
  const password = text(pg, 'password', ['postgres', 'password']);
  const table = text(pg, 'table', ['postgres', 'table']);
  if (database === undefined) bad(['postgres'], "missing required key 'database'");
  if (table === undefined) bad(['postgres'], "missing required key 'table'");
  if (password !== undefined && !ENV_REF.test(password)) {
    bad(
      ['postgres', 'password'],
      `the password is written into the file: put it in an environment variable and refer to it, e.g. password: $\{POSTGRES_PASSWORD}`,
    );
  }
  const enc = encodeURIComponent;
  const auth = user === undefined ? '' : `${enc(user)}${password === undefined ? '' : `:${password}`}@`;
  const ssl = text(pg, 'sslmode', ['postgres', 'sslmode']);
  const url = `postgres://${auth}${host.includes(':') ? `[${host}]` : host}:${port}/${enc(database ?? 'postgres')}${ssl ? `?sslmode=${enc(ssl)}` : ''}`;

  const def = parse(readFileSync(CDC_YAML, 'utf8')) as PipelineDefinition;
  if (!('topic' in def.source) || !def.source.capture)
    throw new Error('pipelines/cdc.yaml has no source.capture');
  const source = def.source;
  const capture = source.capture!;
  capture.postgres = url;
  const schema = text(pg, 'schema', ['postgres', 'schema']);
  if (table !== undefined) capture.table = schema ? `${schema}.${table}` : table;
  // The seed polls by created_at (inserts only) unless the configuration names another column.
  capture.cursor =
    text(cdc, 'cursor', ['cdc', 'cursor']) ??
    text(cdc, 'timestamp_column', ['cdc', 'timestamp_column']) ??
    'created_at';
  const interval = seconds(cdc.poll_interval ?? cdc.poll_interval_seconds);
  if (interval !== undefined) capture.poll_interval = interval;
  if (cdc.batch_limit !== undefined) capture.batch_limit = cdc.batch_limit as number;
  if (cdc.delay !== undefined) capture.delay = seconds(cdc.delay);
  if (cdc.key !== undefined) capture.key = (Array.isArray(cdc.key) ? cdc.key : [cdc.key]) as string[];
  if (cdc.mode !== undefined) capture.mode = cdc.mode as 'polling' | 'logical';
  const state = text(cdc, 'state_path', ['cdc', 'state_path']);
  if (state !== undefined) capture.state_dir = state.replace(/\/last_processed_timestamp\.txt$/, '');
  const topic = text(kafka, 'topic', ['kafka', 'topic']);
  if (topic !== undefined) source.topic = topic;
  if (kafka.partitions !== undefined) source.partitions = kafka.partitions as number;
  const brokers = kafka.bootstrap_servers;
  const servers = Array.isArray(brokers)
    ? brokers.join(',')
    : typeof brokers === 'string'
      ? brokers
      : undefined;
  const output = text(streaming, 'output_path', ['streaming', 'output_path']);
  if (output !== undefined) {
    const base = output.replace(/\/+$/, '');
    const path = (key: string) => text(streaming, key, ['streaming', key]);
    for (const t of def.tables ?? []) {
      if (t.name === 'orders') t.path = base;
      if (t.name === 'orders_failed') t.path = path('failed_path') ?? `${base}_failed`;
      if (t.name === 'orders_current') t.path = path('current_path') ?? `${base}_current`;
    }
  }
  if (streaming.checkpoint_location !== undefined) {
    notes.push(
      'streaming.checkpoint_location is not needed: the pipeline keeps its offsets in the commits of its tables (exactly once)',
    );
  }
  if (kafka.consumer_group !== undefined) {
    notes.push(
      `kafka.consumer_group (${String(kafka.consumer_group)}) is not needed by the pipeline, whose offsets are in its tables; tributary consume --group reads with it`,
    );
  }
  def.description = `${def.description} (from the seed's configuration)`;
  return { definition: def, problems, ...(servers !== undefined && { kafka: servers }), notes };
}
