/**
 * Avro decode + contract + append into a Delta table, two ways of decoding compared:
 *
 * - `columns` (the runtime's AvroDecoder): each record's bytes read straight into DuckDB's
 *   column layout (src/connectors/avro/read-plan.ts, column-batch.ts), appended as data
 *   chunks; the contract in SQL over the typed columns.
 * - `json`: avsc decodes each record into an object (with a resolver per writer schema),
 *   the objects become one NDJSON file read by DuckDB's read_json into the same columns,
 *   the same contract SQL (the JSON decoder's way, with a JSON detour per record).
 *
 * `--events` sales events (default 1,000,000; half written with v1 of the schema, half
 * with v2, read into v2) are produced to the embedded log first (3 partitions). Then per
 * way: decode only (every batch decoded, nothing written), and the pipeline of a
 * definition (`format: avro`, one delta_append sink) drained to the end. Figures:
 * events/s and events per CPU-second of this process.
 *
 *   node bench/avro-decode.ts [--events N] [--max-records N] [--way columns|json|both] [--runs N]
 *
 * Prints the figures and writes bench/results/avro-decode.json.
 */
import { promises as fs, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DuckDBConnection } from '@duckdb/node-api';
import avro from 'avsc';
import type { AvroColumn } from '../src/connectors/avro/columns.ts';
import type { AvroDecoder } from '../src/connectors/avro/decoder.ts';
import { parseAvroSchema } from '../src/connectors/avro/parse.ts';
import type { RegisteredSchema, SchemaRegistryClient } from '../src/connectors/avro/registry-client.ts';
import { frame, HEADER_SIZE, schemaIdAt } from '../src/connectors/avro/wire.ts';
import { quoteIdent, quoteString } from '../src/core/sql.ts';
import type { Log, ValueBatch } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { compilePipeline } from '../src/pipeline/compile.ts';
import { loadDefinitionFile } from '../src/pipeline/load.ts';
import type { TypedContract } from '../src/quality/typed-contract.ts';
import type { Decoder, DeferredDecodedBatch } from '../src/stream/types.ts';
import { openConnection } from '../src/table/index.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    'max-records': { type: 'string', default: '200000' },
    way: { type: 'string', default: 'both' },
    runs: { type: 'string', default: '1' },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = Number(args.events);
const MAX_RECORDS = Number(args['max-records']);
const TOPIC = 'sales.events.v1';

const V1 = {
  type: 'record',
  name: 'sales_event',
  namespace: 'com.example.sales',
  fields: [
    { name: 'event_id', type: 'string' },
    { name: 'event_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'ingest_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'schema_version', type: 'int' },
    { name: 'account_id', type: 'string' },
    {
      name: 'plan_tier',
      type: { type: 'enum', name: 'plan_tier', symbols: ['free', 'starter', 'pro', 'enterprise'] },
    },
    { name: 'region', type: 'string' },
    {
      name: 'event_type',
      type: {
        type: 'enum',
        name: 'event_type',
        symbols: ['trial_started', 'subscription_created', 'upgrade', 'downgrade', 'churn', 'invoice_paid'],
      },
    },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } },
    { name: 'currency', type: 'string' },
  ],
};
const V2 = {
  ...V1,
  fields: [...V1.fields, { name: 'coupon_code', type: ['null', 'string'], default: null }],
};

class BenchRegistry implements SchemaRegistryClient {
  private readonly byId = new Map<number, string>();
  async schemaById(id: number): Promise<string> {
    const s = this.byId.get(id);
    if (s === undefined) throw new Error(`no schema ${id}`);
    return s;
  }
  async register(_subject: string, schema: string): Promise<number> {
    for (const [id, s] of this.byId) if (s === schema) return id;
    const id = this.byId.size + 1;
    this.byId.set(id, schema);
    return id;
  }
  async latest(): Promise<RegisteredSchema | undefined> {
    return undefined;
  }
}

function decimalBytes(unscaled: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeIntBE(unscaled, 0, 6);
  let i = 0;
  while (i < 5 && ((b[i] === 0 && !(b[i + 1] & 0x80)) || (b[i] === 0xff && b[i + 1] & 0x80))) i++;
  return b.subarray(i);
}

async function produce(log: Log, registry: BenchRegistry): Promise<number> {
  const types = [avro.Type.forSchema(V1 as avro.Schema), avro.Type.forSchema(V2 as avro.Schema)];
  const ids = [
    await registry.register('v', JSON.stringify(V1)),
    await registry.register('v', JSON.stringify(V2)),
  ];
  await log.ensureTopic(TOPIC, { partitions: 3 });
  const t0 = Date.UTC(2026, 10, 29, 9);
  let bytes = 0;
  for (let start = 0; start < EVENTS; start += 50_000) {
    const records = [];
    for (let i = start; i < Math.min(EVENTS, start + 50_000); i++) {
      const v2 = i >= EVENTS / 2 ? 1 : 0;
      const account = `acct-${(i * 7919) % 5000}`;
      const value = {
        event_id: `${(i * 2654435761) % 4294967296}-${i}-4000-8000-000000000000`.padStart(36, '0'),
        event_time: t0 + i * 5,
        ingest_time: t0 + i * 5 + 40,
        schema_version: v2 + 1,
        account_id: account,
        plan_tier: ['free', 'starter', 'pro', 'enterprise'][i % 4],
        region: ['eu-west-1', 'us-east-1', 'ap-south-1', 'sa-east-1'][i % 4],
        event_type: ['subscription_created', 'upgrade', 'invoice_paid', 'churn'][i % 4],
        amount: decimalBytes(i % 101 === 7 ? -500 : (i * 7919) % 1_000_000),
        currency: 'EUR',
        ...(v2 && { coupon_code: i % 5 === 0 ? 'WINTER25' : null }),
      };
      const framed = frame(ids[v2], types[v2].toBuffer(value));
      bytes += framed.length;
      records.push({ topic: TOPIC, key: Buffer.from(account), value: framed });
    }
    await log.produce(records);
  }
  return bytes;
}

/** The `json` way: avsc objects → NDJSON → read_json → the same typed contract. */
class AvscJsonDecoder implements Decoder {
  readonly contractName = 'sales_event';
  private readonly reader: avro.Type;
  private readonly resolvers = new Map<number, avro.Resolver>();
  private readonly columns: AvroColumn[];
  private readonly registry: SchemaRegistryClient;
  private readonly sql: (file: string) => string;
  private readonly typed: TypedContract;

  /** Reads into the same columns, with the same contract SQL, as `same`. */
  constructor(same: AvroDecoder, readerText: string, registry: SchemaRegistryClient) {
    this.reader = parseAvroSchema(readerText);
    this.columns = [...same.columns];
    this.registry = registry;
    this.typed = same.typed;
    const struct = this.columns
      .map(
        (c) =>
          `${quoteIdent(c.name)} ${c.kind === 'timestamp' ? 'BIGINT' : c.kind === 'decimal' ? 'VARCHAR' : c.kind === 'enum' ? 'VARCHAR' : c.sqlType}`,
      )
      .join(', ');
    const fields = this.columns
      .map((c) => {
        const ref = `v.${quoteIdent(c.name)}`;
        const value =
          c.kind === 'timestamp'
            ? `make_timestamptz(${ref} * ${c.unit === 'millis' ? 1000 : 1})`
            : c.kind === 'decimal'
              ? `${ref}::${c.sqlType}`
              : ref;
        return `${value} AS ${quoteIdent(c.name)}`;
      })
      .join(', ');
    this.sql = (file) =>
      `SELECT o AS _o, p AS _p, t::BIGINT AS _t, ${fields} FROM read_json(${quoteString(file)}, format='newline_delimited', columns={'o': 'BIGINT', 'p': 'INTEGER', 't': 'DOUBLE', 'v': ${quoteString(`STRUCT(${struct})`)}})`;
  }

  async decode(
    conn: DuckDBConnection,
    batches: readonly ValueBatch[],
    _explain: DuckDBConnection,
    raw: { table: string; shared: boolean } = { table: '__json_raw', shared: false },
  ): Promise<DeferredDecodedBatch> {
    const lines: string[] = [];
    const decimals = this.columns.filter((c) => c.kind === 'decimal');
    for (const b of batches) {
      const buf = Buffer.from(b.values.buffer, b.values.byteOffset, b.values.byteLength);
      for (let i = 0; i < b.count; i++) {
        const start = i === 0 ? 0 : b.ends[i - 1] + 1;
        const id = schemaIdAt(buf, start);
        let resolver = this.resolvers.get(id);
        if (!resolver) {
          resolver = this.reader.createResolver(parseAvroSchema(await this.registry.schemaById(id)));
          this.resolvers.set(id, resolver);
        }
        const { value } = this.reader.decode(buf.subarray(0, b.ends[i]), start + HEADER_SIZE, resolver);
        for (const c of decimals) {
          const d = value[c.name] as Buffer;
          const unscaled = d.length === 0 ? 0 : d.readIntBE(0, d.length);
          value[c.name] = (unscaled / 10 ** c.scale!).toFixed(c.scale!);
        }
        lines.push(
          `{"o":${b.offsets[i]},"p":${b.partition},"t":${b.timestamps[i]},"v":${JSON.stringify(value)}}`,
        );
      }
    }
    const file = join('/dev/shm', `avro-bench-${process.pid}.ndjson`);
    await fs.writeFile(file, lines.join('\n'));
    await conn.run(
      `CREATE OR REPLACE ${raw.shared ? '' : 'TEMP '}TABLE ${raw.table} AS SELECT _o, _p, _t, (${this.typed.validRow}) AS _ok, ${this.typed.outputs.join(', ')} FROM (${this.sql(file)})`,
    );
    await fs.rm(file, { force: true });
    const counts = (
      await conn.runAndReadAll(`SELECT count(*) FILTER (WHERE _ok), count(*) FROM ${raw.table}`)
    ).getRows()[0];
    // The bench's invalid records (amount below 0) are counted, not explained: both ways
    // explain them the same way (SQL over the typed columns).
    return {
      validTable: '__json_valid',
      rawTable: raw.table,
      valid: Number(counts[0]),
      rejectedCount: 0,
      rejected: Promise.resolve([]),
    };
  }
}

const DEFINITION = `name: sales_bench
source: { topic: ${TOPIC}, partitions: 3 }
format: avro
avro: { schema: sales_event.avsc }
contract:
  name: sales_event
  fields:
    - { name: amount, min: 0 }
    - { name: event_id, not_empty: true }
    - { name: account_id, pattern: 'acct-[0-9]+' }
sinks:
  - { name: bronze, type: delta_append, from: input, table: sales_bronze }
`;

const cpuMs = (c0: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};

async function decodeOnly(way: string, log: Log, decoder: Decoder): Promise<Record<string, number>> {
  const conn = await openConnection();
  try {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let valid = 0;
    const positions = [0, 0, 0];
    for (;;) {
      const batches: ValueBatch[] = [];
      for (let p = 0; p < 3; p++) {
        const b = await log.fetchValues(TOPIC, p, positions[p], {
          maxRecords: Math.floor(MAX_RECORDS / 3),
          maxBytes: 64 << 20,
        });
        if (b.count > 0) {
          batches.push(b);
          positions[p] = b.offsets[b.count - 1] + 1;
        }
      }
      if (batches.length === 0) break;
      const d = await decoder.decode(conn, batches, conn, { table: '__bench_raw', shared: false });
      valid += d.valid;
      await d.rejected;
    }
    const ms = performance.now() - t0;
    const cpu = cpuMs(c0);
    console.log(
      `  ${way} decode only: ${Math.round(EVENTS / (ms / 1000)).toLocaleString('en')} events/s, ${Math.round(EVENTS / (cpu / 1000)).toLocaleString('en')} per CPU-second (${valid} valid)`,
    );
    return {
      ms: Math.round(ms),
      cpuMs: Math.round(cpu),
      eventsPerSec: Math.round(EVENTS / (ms / 1000)),
      eventsPerCpuSec: Math.round(EVENTS / (cpu / 1000)),
      valid,
    };
  } finally {
    conn.closeSync();
  }
}

async function pipelineRun(
  way: string,
  dir: string,
  log: Log,
  registry: BenchRegistry,
): Promise<Record<string, unknown>> {
  const data = join(dir, `data-${way}-${Date.now()}`);
  mkdirSync(data, { recursive: true });
  const loaded = await loadDefinitionFile(join(dir, 'sales.yaml'));
  const c = await compilePipeline(loaded, { dataDir: data, log, registry, topic: TOPIC });
  if (way === 'json') {
    // Bench only: the same pipeline with the other decoder.
    const opts = (c.pipeline as unknown as { opts: { decoder: AvroDecoder } }).opts;
    opts.decoder = new AvscJsonDecoder(opts.decoder, JSON.stringify(V2), registry) as unknown as AvroDecoder;
  }
  const stages: Record<string, number> = {};
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await c.pipeline.run({
    untilCaughtUp: true,
    onBatch: (r) => {
      for (const [k, v] of Object.entries(r.stages)) stages[k] = (stages[k] ?? 0) + v;
    },
  });
  const ms = performance.now() - t0;
  const cpu = cpuMs(c0);
  const m = c.pipeline.metrics;
  await c.pipeline.close();
  rmSync(data, { recursive: true, force: true });
  const out = {
    ms: Math.round(ms),
    cpuMs: Math.round(cpu),
    eventsPerSec: Math.round(EVENTS / (ms / 1000)),
    eventsPerCpuSec: Math.round(EVENTS / (cpu / 1000)),
    batches: m.batches,
    rows: m.sinks.get('bronze')?.rows,
    stageMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(v)])),
  };
  console.log(
    `  ${way} decode + contract + append: ${out.eventsPerSec.toLocaleString('en')} events/s, ${out.eventsPerCpuSec.toLocaleString('en')} per CPU-second, ${out.batches} batches, ${out.rows} rows; stages ms ${JSON.stringify(out.stageMs)}`,
  );
  return out;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-avro-'));
  const results: Record<string, unknown> = { events: EVENTS, maxRecords: MAX_RECORDS, runs: [] };
  try {
    const log = await openLog({ dataDir: dir });
    const registry = new BenchRegistry();
    const p0 = performance.now();
    const bytes = await produce(log, registry);
    console.log(
      `produced ${EVENTS.toLocaleString('en')} framed events (${Math.round(bytes / EVENTS)} bytes each) in ${Math.round(performance.now() - p0)} ms`,
    );
    await fs.writeFile(join(dir, 'sales_event.avsc'), JSON.stringify(V2));
    await fs.writeFile(join(dir, 'sales.yaml'), DEFINITION);
    results.bytesPerEvent = Math.round(bytes / EVENTS);
    const ways = args.way === 'both' ? ['columns', 'json'] : [args.way!];
    for (let r = 0; r < Number(args.runs); r++) {
      const run: Record<string, unknown> = {};
      for (const way of ways) {
        const loaded = await loadDefinitionFile(join(dir, 'sales.yaml'));
        const c = await compilePipeline(loaded, { dataDir: join(dir, 'probe'), log, registry });
        const avroDecoder = (c.pipeline as unknown as { opts: { decoder: AvroDecoder } }).opts.decoder;
        await c.pipeline.close();
        const decoder =
          way === 'json' ? new AvscJsonDecoder(avroDecoder, JSON.stringify(V2), registry) : avroDecoder;
        run[way] = {
          decodeOnly: await decodeOnly(way, log, decoder),
          pipeline: await pipelineRun(way, dir, log, registry),
        };
      }
      (results.runs as unknown[]).push(run);
    }
    await log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'avro-decode.json'), `${JSON.stringify(results, null, 2)}\n`);
}

await main();
