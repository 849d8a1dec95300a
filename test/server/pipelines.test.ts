/**
 * A pipeline running in the test process beside the server, fed through HTTP ingest:
 * `/api/v1/pipelines` shows it catch up (lag 0, positions at the topic's ends read from
 * the log), its DLQ's latest records equal the DLQ topic's tail read from the log, and
 * `/metrics` (parsed by an independent reader of the text format) counts what the input
 * says: N records in, k invalid, N − k rows out (the table holds them), k in the DLQ,
 * latency histograms over the N − k valid records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { type CompiledPipeline, compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { type RunningPipeline, RunningPipelines, sinkTables } from '../../src/server/pipelines/registry.ts';
import { readRows } from '../../src/table/index.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';
import { openTestLog, readTopic } from './ingest-helpers.ts';
import { type Exposition, find, parseExposition, value } from './prom-text.ts';

const DEFINITION = `
name: shop
source: { topic: shop, partitions: 2 }
contract:
  name: shop.v1
  fields:
    - { name: id, type: integer }
    - { name: amount, type: number, min: 0 }
    - { name: ts, type: integer }
event_time: { expr: 'epoch_ms(ts)' }
sinks:
  - { name: lake, type: delta_append, from: input, table: shop }
runtime: { trigger: 10ms, max_records_per_batch: 50 }
`;

const N = 240;
const T0 = Date.UTC(2026, 0, 1);
/** Every 35th record breaks the contract (a negative amount): 7 of 240. */
const isInvalid = (i: number) => i % 35 === 3;
const K = Array.from({ length: N }, (_, i) => i).filter(isInvalid).length;
const line = (i: number) => JSON.stringify({ id: i, amount: isInvalid(i) ? -1 : i * 1.5, ts: T0 + i * 1000 });

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never: ${what}`);
}

describe('pipelines and metrics of a pipeline running beside the server', () => {
  let s: Running;
  let log: Log;
  let compiled: CompiledPipeline;
  let entry: RunningPipeline;
  let running: Promise<void>;
  const stop = new AbortController();
  const registry = new RunningPipelines();
  let reader: string;

  before(async () => {
    const dataDir = tempDir('pipelines');
    log = await openTestLog(dataDir);
    compiled = await compilePipeline(fromYaml(DEFINITION, 'shop.yaml'), { dataDir, log });
    entry = registry.register({ pipeline: compiled.pipeline, sinkTables: sinkTables(compiled) });
    running = entry.track(compiled.pipeline.run({ signal: stop.signal, onError: entry.onRetry() }));
    s = await startServer({ dataDir, pipelines: registry, ingest: { log } });
    reader = await s.token('reader');
    const writer = await s.token('writer');
    const body = Array.from({ length: N }, (_, i) => line(i)).join('\n');
    const ingested = await fetch(`${s.url}/api/v1/topics/shop/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    assert.equal(ingested.status, 200, await ingested.text());
  });
  after(async () => {
    stop.abort();
    await running.catch(() => {});
    await compiled.pipeline.close();
    registry.close();
    await s.stop();
    await log.close();
  });

  test('the pipeline catches up: lag 0, positions at the ends of the topic', async () => {
    const detail = await until(
      'caught up',
      async () => (await call(s.url, '/api/v1/pipelines/shop', { token: reader })).body,
      (b) => b.counters.recordsIn === N && b.source.lag === 0,
    );
    assert.equal(detail.state, 'running');
    assert.equal(detail.source.name, 'shop');
    for (const p of detail.source.partitions) {
      const { latest } = await log.offsets('shop', p.partition);
      assert.deepEqual(p, { partition: p.partition, position: latest, end: latest, lag: 0 });
    }
    assert.equal(detail.counters.invalid, K);
    assert.equal(detail.sinks[0].name, 'lake');
    assert.equal(detail.sinks[0].table, 'shop');
    assert.equal(detail.sinks[0].rows, N - K);
    assert.equal(detail.latencyMs.fromIngest.count, N - K);
    assert.ok(detail.latencyMs.fromIngest.p50 <= detail.latencyMs.fromIngest.p99);
    const list = await call(s.url, '/api/v1/pipelines', { token: reader });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.pipelines.map((p: { name: string; lag: number; state: string }) => [p.name, p.lag, p.state]),
      [['shop', 0, 'running']],
    );
  });

  test('the DLQ: its size, and its latest records equal the DLQ topic’s tail', async () => {
    const a = await call(s.url, '/api/v1/pipelines/shop?dlq=5', { token: reader });
    assert.equal(a.status, 200);
    const tail = (await readTopic(log, 'shop.dlq'))
      .map((r) => ({ ...JSON.parse(r.value!), partition: r.partition, offset: r.offset }))
      .sort((x, y) => y.rejected_at - x.rejected_at || y.partition - x.partition || y.offset - x.offset);
    assert.equal(tail.length, K);
    assert.equal(a.body.dlq.topic, 'shop.dlq');
    assert.equal(a.body.dlq.records, K);
    assert.equal(a.body.dlq.writtenByThisProcess, K);
    assert.deepEqual(a.body.dlq.recent, tail.slice(0, 5));
    // The DLQ holds the invalid records of the input, by their bytes.
    const all = await call(s.url, '/api/v1/pipelines/shop?dlq=100', { token: reader });
    const invalidLines = Array.from({ length: N }, (_, i) => i)
      .filter(isInvalid)
      .map(line);
    assert.deepEqual(all.body.dlq.recent.map((d: { value: string }) => d.value).sort(), invalidLines.sort());
  });

  test('/metrics counts what the input says', async () => {
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${reader}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const m: Exposition = parseExposition(await res.text());
    const p = { pipeline: 'shop' };
    const table = await compiled.tables.get('shop')!;
    const rows = await readRows(table, await table.snapshot());
    assert.equal(rows.length, N - K);
    assert.equal(value(m, 'tributary_records_in_total', p), N);
    assert.equal(value(m, 'tributary_records_invalid_total', p), K);
    assert.equal(value(m, 'tributary_records_out_total', { ...p, sink: 'lake', table: 'shop' }), rows.length);
    assert.equal(value(m, 'tributary_dlq_records_total', p), K);
    assert.equal(value(m, 'tributary_dlq_topic_records', { ...p, topic: 'shop.dlq' }), K);
    assert.equal(value(m, 'tributary_records_late_total', p), 0);
    assert.equal(value(m, 'tributary_sink_duplicates_total', { ...p, sink: 'lake' }), 0);
    assert.equal(value(m, 'tributary_pipeline_up', p), 1);
    assert.equal(value(m, 'tributary_pipeline_state', { ...p, state: 'running' }), 1);
    assert.equal(value(m, 'tributary_ingest_records_total', { topic: 'shop' }), N);
    assert.equal(value(m, 'tributary_ingest_requests_total', { code: '200' }), 1);
    for (const partition of ['0', '1']) {
      assert.equal(value(m, 'tributary_pipeline_lag_records', { ...p, topic: 'shop', partition }), 0);
    }
    const detail = (await call(s.url, '/api/v1/pipelines/shop', { token: reader })).body;
    assert.equal(value(m, 'tributary_pipeline_batches_total', p), detail.counters.batches);
    assert.equal(value(m, 'tributary_batch_duration_seconds_count', p), detail.counters.batches);
    assert.equal(value(m, 'tributary_sink_commits_total', { ...p, sink: 'lake' }), detail.sinks[0].commits);
    assert.equal(
      value(m, 'tributary_sink_commit_conflicts_total', { ...p, sink: 'lake' }),
      detail.sinks[0].conflicts,
    );
    assert.equal(detail.sinks[0].conflicts, 0, 'one writer: no commit lost a race');
    // Latency histograms: one observation per valid record, buckets cumulative.
    for (const from of ['ingest', 'event_time']) {
      const labels = { ...p, sink: 'lake', from };
      assert.equal(value(m, 'tributary_sink_latency_seconds_count', labels), N - K);
      const buckets = find(m, 'tributary_sink_latency_seconds_bucket', labels);
      assert.equal(buckets.at(-1)!.labels.le, '+Inf');
      assert.equal(buckets.at(-1)!.value, N - K);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
      assert.ok(value(m, 'tributary_sink_latency_seconds_sum', labels) > 0);
      assert.equal(value(m, 'tributary_pipeline_latency_seconds_count', { ...p, from }), N - K);
    }
    // Event times are 2026-01-01 plus up to 4 minutes: every record's latency from event time exceeds them all.
    const eventSum = value(m, 'tributary_sink_latency_seconds_sum', {
      ...p,
      sink: 'lake',
      from: 'event_time',
    });
    assert.ok(eventSum / (N - K) > (Date.now() - T0) / 1000 - 3600);
    assert.equal(m.types.get('tributary_records_in_total'), 'counter');
    assert.equal(m.types.get('tributary_sink_latency_seconds'), 'histogram');
    assert.equal(m.types.get('tributary_pipeline_lag_records'), 'gauge');
    assert.ok(find(m, 'process_cpu_user_seconds_total').length === 1);
  });

  test('/metrics needs a token unless public; an unknown pipeline is 404', async () => {
    const none = await call(s.url, '/metrics');
    assert.equal(none.status, 401);
    const missing = await call(s.url, '/api/v1/pipelines/nope', { token: reader });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'PIPELINE_NOT_FOUND');
    assert.match(missing.body.message, /running: shop/);
  });

  test('once stopped: state stopped, up 0, uptime frozen', async () => {
    stop.abort();
    await running;
    const a = await call(s.url, '/api/v1/pipelines/shop', { token: reader });
    assert.equal(a.body.state, 'stopped');
    assert.ok(a.body.stoppedAt);
    const m = parseExposition((await call(s.url, '/metrics', { token: reader })).text);
    assert.equal(value(m, 'tributary_pipeline_up', { pipeline: 'shop' }), 0);
    assert.equal(value(m, 'tributary_pipeline_state', { pipeline: 'shop', state: 'stopped' }), 1);
  });
});

describe('/metrics public', () => {
  test('with metricsPublic no token is needed', async () => {
    const s = await startServer({ metricsPublic: true });
    try {
      const a = await call(s.url, '/metrics');
      assert.equal(a.status, 200);
      assert.match(a.text, /^# HELP/m);
    } finally {
      await s.stop();
    }
  });
});
