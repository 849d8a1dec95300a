/**
 * The input of the saas-* scenario tests: sales events from `generateSales` (the
 * generator of `tributary generate sales`) on a clock that moves a fixed step per
 * reading, so event time advances with the records (`step` ms a record) and runs are
 * reproducible; and copies of old events re-sent long after (a producer retrying after
 * an outage), which only silver's sink dedup recognises.
 */
import assert from 'node:assert/strict';
import type { SchemaRegistryClient } from '../../src/connectors/avro/registry-client.ts';
import type { Clock } from '../../src/core/clock.ts';
import type { Log } from '../../src/log/log.ts';
import { partitionForKey } from '../../src/log/partitioner.ts';
import { SALES_PARTITIONS, SALES_TOPIC } from '../../src/scenarios/saas-sales/domain.ts';
import { generateSales } from '../../src/scenarios/saas-sales/generate.ts';
import {
  SalesGenerator,
  type SalesRecord,
  type WrittenVersion,
} from '../../src/scenarios/saas-sales/generator.ts';

/** A clock that moves `step` ms each time it is read. */
export class SteppingClock implements Clock {
  t: number;
  readonly step: number;
  constructor(t: number, step: number) {
    this.t = t;
    this.step = step;
  }
  now(): number {
    const v = this.t;
    this.t += this.step;
    return v;
  }
}

async function ends(log: Log): Promise<number[]> {
  return Promise.all(
    Array.from({ length: SALES_PARTITIONS }, async (_, p) => (await log.offsets(SALES_TOPIC, p)).latest),
  );
}

/**
 * Produces `count` sales records with `generateSales` (version 1, then 2 from `switchAt`;
 * or `version` throughout) and returns what the generator meant by each, by position
 * ("partition/offset"): the same generator replayed on the same clock readings (one
 * reading per record, one as each produce loop starts). The caller checks the replay's
 * bytes against the topic's.
 */
export async function generateTracked(
  log: Log,
  registry: SchemaRegistryClient,
  clock: SteppingClock,
  opts: { count: number; seed: number; switchAt?: number; version?: WrittenVersion },
): Promise<Map<string, SalesRecord>> {
  await log.ensureTopic(SALES_TOPIC, { partitions: SALES_PARTITIONS });
  const before = await ends(log);
  const t0 = clock.t;
  const ids = new Map<WrittenVersion, number>();
  const produced = await generateSales({
    log,
    registry,
    clock,
    count: opts.count,
    seed: opts.seed,
    switchAt: opts.switchAt,
    schemaVersion: opts.version,
    onSchema: (v, id) => ids.set(v, id),
  });
  assert.equal(produced, opts.count);
  const replay = new SteppingClock(t0, clock.step);
  const first = opts.version ?? 1;
  const g = new SalesGenerator({
    seed: opts.seed,
    clock: replay,
    startEvent: before.reduce((a, b) => a + b, 0),
    schema: { version: first, id: ids.get(first)! },
  });
  replay.now();
  const next = [...before];
  const out = new Map<string, SalesRecord>();
  for (let i = 0; i < opts.count; i++) {
    if (i === opts.switchAt && first === 1) {
      replay.now();
      g.useSchema(2, ids.get(2)!);
    }
    const r = g.next();
    const p = partitionForKey(Buffer.from(r.key), SALES_PARTITIONS);
    out.set(`${p}/${next[p]++}`, r);
  }
  assert.equal(replay.t, clock.t, 'the replay read the clock as often as the run');
  assert.deepEqual(next, await ends(log), 'the replay put as many records in each partition');
  return out;
}

/**
 * Re-sends `n` valid records made between 20 and 12 minutes of event time before the
 * clock, byte for byte with their keys, into their partitions; returns where the copies
 * landed.
 */
export async function resendStale(
  log: Log,
  made: ReadonlyMap<string, SalesRecord>,
  now: number,
  n: number,
): Promise<Set<string>> {
  const old = [...made.entries()].filter(
    ([, r]) => r.kind === 'valid' && r.eventTime >= now - 20 * 60_000 && r.eventTime <= now - 12 * 60_000,
  );
  assert.ok(old.length >= n, `${old.length} records to re-send ${n} of`);
  const picked = Array.from({ length: n }, (_, i) => old[Math.floor((i * old.length) / n)]);
  const res = await log.produce(
    picked.map(([at, r]) => ({
      topic: SALES_TOPIC,
      partition: Number(at.split('/')[0]),
      key: Buffer.from(r.key),
      value: r.value,
    })),
  );
  return new Set(res.map((x) => `${x.partition}/${x.offset}`));
}
