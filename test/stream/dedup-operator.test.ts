/**
 * The dedup step's state, saved incrementally (a segment of new keys per batch, a
 * descriptor listing the live ones): the rows it keeps are those of a plain-code model of
 * its rule, whether the operator runs straight or is reopened from its saved state after
 * every batch; duplicates are re-sent around the horizon and timestamps arrive out of
 * order, so expiry decides; the segments no retained plan needs are deleted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openStore } from '../../src/storage/open.ts';
import { DedupOperator, type SavedDedupState } from '../../src/stream/dedup-operator.ts';
import { openConnection } from '../../src/table/index.ts';

const HORIZON_MS = 30_000;
const BATCH = 200;
const BATCHES = 60;
const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);

interface Rec {
  p: number;
  o: number;
  id: string;
  ts: number;
}

/** Events every 100 ms, 10 % up to 10 s out of order; 20 % re-sent 1–600 records later (0.1–60 s: across the horizon). */
function input(): Rec[][] {
  let s = 7;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const flat: Array<{ id: string; ts: number }> = [];
  const resend: Array<{ at: number; r: { id: string; ts: number } }> = [];
  for (let i = 0; flat.length < BATCH * BATCHES; i++) {
    const late = rnd() < 0.1 ? Math.floor(rnd() * 10_000) : 0;
    const r = { id: `e${i}`, ts: T0 + i * 100 - late };
    flat.push(r);
    if (rnd() < 0.2) resend.push({ at: flat.length + 1 + Math.floor(rnd() * 600), r });
    for (const x of resend.filter((y) => y.at === flat.length)) flat.push(x.r);
  }
  const batches: Rec[][] = [];
  const next = [0, 0];
  for (let b = 0; b < BATCHES; b++) {
    batches.push(
      flat.slice(b * BATCH, (b + 1) * BATCH).map((r, i) => {
        const p = i % 2;
        return { p, o: next[p]++, ...r };
      }),
    );
  }
  return batches;
}

/**
 * The rule in plain code: in a batch, the first copy of a key (by partition, offset) is
 * kept unless the key was seen (any sighting, in an earlier batch) at or after the
 * newest event time before the batch minus the horizon.
 */
function model(batches: Rec[][]): string[][] {
  const lastSeen = new Map<string, number>();
  let newest = Number.NEGATIVE_INFINITY;
  const out: string[][] = [];
  for (const batch of batches) {
    const before = newest - HORIZON_MS;
    const sorted = [...batch].sort((a, b) => a.p - b.p || a.o - b.o);
    const inBatch = new Set<string>();
    const kept: string[] = [];
    for (const r of sorted) {
      if (inBatch.has(r.id)) continue;
      inBatch.add(r.id);
      const seen = lastSeen.get(r.id);
      if (seen !== undefined && seen >= before) continue;
      kept.push(`${r.p}/${r.o}`);
    }
    for (const r of batch) {
      lastSeen.set(r.id, Math.max(lastSeen.get(r.id) ?? Number.NEGATIVE_INFINITY, r.ts));
      newest = Math.max(newest, r.ts);
    }
    out.push(kept.sort());
  }
  return out;
}

async function load(conn: DuckDBConnection, batch: Rec[]): Promise<string> {
  const values = batch.map((r) => `(${r.p}, ${r.o}, '${r.id}', ${r.ts})`).join(', ');
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE batch_in (_p INTEGER, _o BIGINT, event_id VARCHAR, ts BIGINT)`,
  );
  await conn.run(`INSERT INTO batch_in VALUES ${values}`);
  return 'batch_in';
}

const prefix = (id: number) => `windows/unique/${String(id).padStart(20, '0')}`;
const spec = { key: 'event_id', time: 'epoch_ms(ts)', horizonMs: HORIZON_MS };

async function run(
  batches: Rec[][],
  dir: string,
  reopenEachBatch: boolean,
): Promise<{ kept: string[][]; files: number; segments: number }> {
  const store = openStore(dir);
  const conn = await openConnection();
  const kept: string[][] = [];
  let op = new DedupOperator(spec, 'unique', 'dedup_out');
  try {
    await op.open(conn);
    let last: SavedDedupState | undefined;
    for (let b = 0; b < batches.length; b++) {
      if (reopenEachBatch && b > 0) {
        await op.close(conn);
        op = new DedupOperator(spec, 'unique', 'dedup_out');
        await op.open(conn, { store, state: await op.readSaved(store, prefix(b)) });
      }
      const res = await op.process(conn, await load(conn, batches[b]));
      const rows = (await conn.runAndReadAll(`SELECT _p, _o FROM ${res.output}`)).getRows();
      kept.push(rows.map(([p, o]) => `${p}/${o}`).sort());
      last = await op.save(conn, store, prefix(b + 1));
      // The last three plans retained (sinks a little behind), older ones pruned.
      await op.collect(store, 'windows/unique', [b - 1, b, b + 1].filter((i) => i >= 1).map(prefix));
    }
    const files = (await store.list('windows/unique/')).filter((f) =>
      f.path.endsWith('.keys.parquet'),
    ).length;
    return { kept, files, segments: last?.segments?.length ?? 0 };
  } finally {
    await op.close(conn);
    conn.closeSync();
  }
}

test('dedup state saved incrementally: straight and reopened after every batch both keep what the rule keeps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-dedup-op-'));
  try {
    const batches = input();
    const want = model(batches);
    const dropped = batches.reduce((n, b, i) => n + b.length - want[i].length, 0);
    assert.ok(dropped > 1000, `${dropped} duplicates dropped by the rule`);
    // Some copies come back after the horizon and are kept again: expiry is exercised.
    const ids = new Map<string, number>();
    for (const [i, b] of batches.entries())
      for (const r of b) if (want[i].includes(`${r.p}/${r.o}`)) ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
    assert.ok(
      [...ids.values()].some((n) => n > 1),
      'a copy past the horizon is kept again',
    );

    const straight = await run(batches, join(dir, 'a'), false);
    assert.deepEqual(straight.kept, want, 'straight run');
    const reopened = await run(batches, join(dir, 'b'), true);
    assert.deepEqual(reopened.kept, want, 'reopened from the saved state after every batch');

    // 20 s of events per batch and a 30 s horizon: a few segments live, the rest deleted.
    assert.ok(straight.segments <= 4, `${straight.segments} live segments`);
    assert.ok(straight.files <= straight.segments + 3, `${straight.files} segment files kept`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
