/**
 * The contract every sink passes: one suite, run for each sink by
 * sink-contract.test.ts (and by the sinks of later issues, such as the PostgreSQL
 * serving sink, which writes rows and its progress in one database transaction).
 *
 * The suite drives a sink as the runtime does (src/stream/pipeline.ts): `open` loads its
 * progress; each batch is a BatchView on a DuckDB connection (`validTable`, a temp table
 * of the batch's valid records: `_p`, `_o`, `_t` and the typed columns `id`, `k`,
 * `amount`, `ts`, `note`; `sharedValid`, the same rows in a table every connection can
 * read); `prepare`, then `write(batch, progress, extraTxn)`; after a write, the caller
 * moves its progress to the batch's last offsets; after a failed write it calls
 * `settle()`, then `open` again, and retries from the progress `open` gives; at the end,
 * `flush`. What the sink durably holds is read back through the factory, as a restarted
 * process would see it.
 *
 * What a sink must do (each is a test below):
 * - Progress: `open` on empty storage reports none; after a batch is committed, `open`
 *   (of a fresh sink over the same storage) reports, per partition of the batch,
 *   exactly its last offset — the last record fetched, even when the trailing records
 *   (or all of them) were rejected and are not among the valid rows — and nothing for
 *   partitions the batch did not hold.
 * - Rows: the storage holds the rows of the records past the progress `write` was given
 *   (records at or below it are skipped per partition: `pastProgress`), as the sink
 *   maps them (`SinkFactory.expected`: select, dedup, upsert). A batch already
 *   committed writes nothing.
 * - Atomicity: rows and progress become durable together; the markers `extraTxn`
 *   resolves to are committed in the same transaction, only once it resolved, and a
 *   rejection of `extraTxn` fails the write with nothing committed. At any moment,
 *   including after any storage failure, the storage holds exactly the rows of the
 *   records up to its progress, and the markers of the same batch.
 * - Failures: a failed `write` or `flush` rejects, with a retryable TributaryError when
 *   the storage failed (the runtime retries only those); `settle()` then resolves (never
 *   rejects) once nothing the sink started is still running; `open` again and a retry
 *   of the same batches converge to exactly one copy of every row. `close()` works after
 *   failures.
 * - Buffering: a sink may hold batches back (commit later, in the background); `flush`
 *   commits all it holds; `durableThrough` (SinkResult) never claims a batch whose
 *   progress a fresh `open` does not show.
 * - A sink reads a batch's tables only during `prepare` and `write` (the runtime reuses
 *   them two batches later).
 *
 * A factory (SinkFactory) hides the storage: `open` gives the sink over fresh storage (a
 * new table, schema or database) and, when asked for `faults`, a switch that makes that
 * storage fail — `error-before` (the call, e.g. a COMMIT, never reaches it),
 * `error-after` (it took effect, the answer was lost), `hang` (timed out, takes effect
 * later); `fresh` a new sink over the same storage, as a restarted process opens it;
 * `rows` what a reader of that storage sees; `marker` the version an `extraTxn` marker
 * reached (a Delta table's txn action, a row of a database's progress table);
 * `expected` the sink's mapping of records to rows, computed in plain code.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import type { ExtraTxn, Progress, Sink } from '../../src/stream/types.ts';
import {
  assertProgress,
  assertRows,
  type Batch,
  batches,
  committed,
  Driver,
  durable,
  makeLog,
  markers,
  type SinkFactory,
  type SinkHarness,
  type StorageFault,
  slice,
  through,
} from './sink-contract-driver.ts';

export type {
  ContractRecord,
  FaultSwitch,
  Row,
  SinkFactory,
  SinkHarness,
  StorageFault,
} from './sink-contract-driver.ts';

export interface ContractOptions {
  /** Storage faults to run the atomicity rounds with (default: all). */
  faults?: readonly StorageFault[];
  /** Seeds of each fault round (default 1, 2, 3). */
  seeds?: readonly number[];
  /** Test timeout, ms (default 300 s). */
  timeout?: number;
}

/** Runs `fn` with a harness and a driver of its sink, closing both whatever happens. */
async function withSink(
  factory: SinkFactory,
  fn: (h: SinkHarness, d: Driver) => Promise<void>,
  opts: Parameters<SinkFactory['open']>[0] = {},
): Promise<void> {
  const h = await factory.open(opts);
  const d = await Driver.start(h);
  try {
    await fn(h, d);
  } finally {
    await h.faults?.off();
    await closeSink(h.sink);
    await d.close();
    await h.dispose();
  }
}

const closed = new WeakSet<Sink>();

/** settle, then close (once). */
async function closeSink(sink: Sink): Promise<void> {
  if (closed.has(sink)) return;
  closed.add(sink);
  await sink.settle?.();
  await sink.close?.();
}

/** Resolves when `cond()` holds, polling every millisecond (for at most ~20 s). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 20_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
}

/** Writes every batch, then flushes; the results' durableThrough claims, with the batch count each stands for. */
function writeAll(d: Driver, given: readonly Batch[]) {
  const claims: Array<{ seq: number; n: number }> = [];
  const counts = new Map<number, number>();
  const claim = (through?: number) => {
    if (through === undefined) return;
    const seqs = [...counts.keys()].filter((s) => s <= through);
    if (seqs.length > 0) claims.push({ seq: through, n: counts.get(Math.max(...seqs))! });
  };
  return {
    claims,
    async run(from = 0, onClaim?: () => Promise<void>) {
      for (let i = from; i < given.length; i++) {
        const res = await d.write(given[i]);
        counts.set(res.seq, i + 1);
        claim(res.durableThrough);
        if (onClaim && res.durableThrough !== undefined) await onClaim();
      }
      claim((await d.flush())?.durableThrough);
      if (onClaim) await onClaim();
    },
  };
}

/** The progress a fresh open shows covers every batch a result claimed durable. */
async function assertClaims(
  h: SinkHarness,
  given: readonly Batch[],
  claims: ReadonlyArray<{ seq: number; n: number }>,
) {
  if (claims.length === 0) return;
  const { progress } = await durable(h);
  const last = claims[claims.length - 1];
  for (const [p, o] of through(given, last.n)) {
    assert.ok(
      (progress.get(p) ?? -1) >= o,
      `durableThrough ${last.seq} claims batch ${last.n} (partition ${p} through offset ${o}), but a fresh open shows ${progress.get(p) ?? 'nothing'}`,
    );
  }
}

/**
 * What storage holds at any moment: progress at the end of a batch (rows and progress
 * of a batch commit together), exactly the rows of the records up to it, and the
 * markers of the same batch. Returns how many batches it holds.
 */
async function assertConsistent(h: SinkHarness, factory: SinkFactory, given: readonly Batch[], when: string) {
  const s = await durable(h);
  const key = (m: Progress) => JSON.stringify([...m].sort(([a], [b]) => a - b));
  let n = -1;
  for (let i = 0; i <= given.length; i++) if (key(through(given, i)) === key(s.progress)) n = i;
  assert.ok(n >= 0, `${when}: progress ${key(s.progress)} is not the end of a batch`);
  assertRows(
    s.rows,
    factory.expected(committed(given, s.progress)),
    `${when}: the rows are those up to the progress`,
  );
  assertProgress(s.markers, s.progress, `${when}: the markers are those of the batch committed last`);
  return n;
}

async function faultRound(factory: SinkFactory, kind: StorageFault, seed: number): Promise<void> {
  await withSink(
    factory,
    async (h, d) => {
      const f = h.faults;
      assert.ok(f, 'the factory gives a fault switch when asked for faults');
      const given = batches(makeLog(seed, 40), 8, 5);
      await d.open();
      f.on();
      let failing = true;
      let failures = 0;
      let next = 0;
      const w = writeAll(d, given);
      const claimed = () => assertClaims(h, given, w.claims);
      for (let attempt = 1; ; attempt++) {
        // Storage that keeps failing recovers at last, as the runtime's retries assume.
        if (attempt > 30) {
          failing = false;
          await f.off();
        }
        try {
          await w.run(next, claimed);
          break;
        } catch (err) {
          // Once the storage works, nothing may fail.
          if (!failing) throw err;
          // The runtime retries a batch only after a retryable error; any other stops the pipeline.
          assert.ok(
            isTributaryError(err) && err.retryable,
            `a storage failure surfaces as a retryable TributaryError, not: ${(err as Error).stack}`,
          );
          failures++;
          await h.sink.settle?.();
          await assertConsistent(h, factory, given, `${kind} ${seed}: after failure ${failures}`);
          await f.off();
          await assertConsistent(
            h,
            factory,
            given,
            `${kind} ${seed}: after failure ${failures}, held writes landed`,
          );
          if (failing) f.on();
          // As the runtime: open again (retried while the storage fails), resume from its progress.
          for (let i = 0; ; i++) {
            try {
              await d.open();
              break;
            } catch (err) {
              if (i >= 20) throw err;
              await h.sink.settle?.();
            }
          }
          next = given.findIndex((b) => [...b.lastOffsets].some(([p, o]) => (d.progress.get(p) ?? -1) < o));
          if (next < 0) next = given.length;
        }
      }
      await f.off();
      await h.sink.settle?.();
      assert.ok(f.fired() > 0, 'faults fired');
      assert.ok(failures > 0, 'writes failed and were retried');
      const n = await assertConsistent(h, factory, given, `${kind} ${seed}: at the end`);
      assert.equal(n, given.length, 'every batch committed, each once');
      await assertClaims(h, given, w.claims);
    },
    { faults: { kind, seed } },
  );
}

export function sinkContract(name: string, factory: SinkFactory, opts: ContractOptions = {}): void {
  describe(`sink contract: ${name}`, { timeout: opts.timeout ?? 300_000 }, () => {
    test('reports no progress on empty storage; a committed batch is its rows and exactly its last offsets', () =>
      withSink(factory, async (h, d) => {
        assertProgress(await d.open(), new Map(), 'open on empty storage');
        const empty = await durable(h);
        assertProgress(empty.progress, new Map(), 'a fresh open of empty storage');
        assertRows(empty.rows, [], 'empty storage holds no rows');
        const log = makeLog(1, 20);
        // Partition 1's last offset (13) is a rejected record; partition 2 is not in the batch.
        const b1 = slice(log, {}, { 0: 9, 1: 13 });
        assert.ok(!b1.records.some((r) => r._p === 1 && r._o === 13));
        await d.write(b1);
        await d.flush();
        const s = await durable(h);
        assertProgress(s.progress, b1.lastOffsets, 'a fresh open reports the batch last offsets');
        assertRows(s.rows, factory.expected(b1.records), 'the rows of the batch');
      }));

    test('a batch without valid records still moves the progress', () =>
      withSink(factory, async (h, d) => {
        await d.open();
        const log = makeLog(2, 20);
        const b1 = slice(log, {}, { 0: 5, 1: 5 });
        // Offsets 6 are rejected records: the batch has no valid rows.
        const b2 = slice(log, { 0: 6, 1: 6 }, { 0: 6, 1: 6 });
        assert.equal(b2.records.length, 0);
        const w = writeAll(d, [b1, b2]);
        await w.run();
        const s = await durable(h);
        assertProgress(s.progress, b2.lastOffsets, 'the progress of the batch without rows');
        assertRows(s.rows, factory.expected(b1.records), 'the rows of the first batch');
        assertProgress(s.markers, b2.lastOffsets, 'the markers of the batch without rows');
        await assertClaims(h, [b1, b2], w.claims);
      }));

    test('a committed batch written again writes nothing; an overlapping one only the records past the progress', () =>
      withSink(factory, async (h, d) => {
        await d.open();
        const log = makeLog(3, 30);
        const b1 = slice(log, {}, { 0: 9, 1: 13 });
        await d.write(b1);
        await d.flush();
        // Again through the same sink (the caller's progress moved), and an older batch.
        await d.write(b1);
        await d.write(slice(log, {}, { 0: 3 }));
        await d.flush();
        let s = await durable(h);
        assertProgress(s.progress, b1.lastOffsets, 'the progress of the batch written once');
        assertRows(s.rows, factory.expected(b1.records), 'the rows of the batch, once');
        // A restarted process: a fresh sink, its progress from open.
        const fresh = await Driver.start(h, await h.fresh());
        try {
          assertProgress(await fresh.open(), b1.lastOffsets, 'a fresh sink opens at the batch');
          await fresh.write(b1);
          await fresh.flush();
          s = await durable(h);
          assertProgress(s.progress, b1.lastOffsets, 'unchanged by the batch written again');
          assertRows(s.rows, factory.expected(b1.records), 'unchanged by the batch written again');
          // Overlapping: partition 0 from offset 5, partition 1 from 0, partition 2 new.
          const b2 = slice(log, { 0: 5, 1: 0, 2: 0 }, { 0: 15, 1: 16, 2: 8 });
          await fresh.write(b2);
          await fresh.flush();
          s = await durable(h);
          assertProgress(s.progress, b2.lastOffsets, 'the overlapping batch last offsets');
          assertRows(s.rows, factory.expected(committed([b1, b2], s.progress)), 'each record once');
        } finally {
          await closeSink(fresh.sink);
          await fresh.close();
        }
      }));

    test('extraTxn markers commit with the batch, only once they resolve; a failed extraTxn commits nothing', () =>
      withSink(factory, async (h, d) => {
        await d.open();
        const log = makeLog(4, 30);
        const given = batches(log, 5, 6);
        let release: () => void = () => {};
        const gate = new Promise<void>((r) => {
          release = r;
        });
        let asked = 0;
        const gated: ExtraTxn = async () => {
          asked++;
          await gate;
          return markers(given[0])();
        };
        let settled = false;
        const first = d.write(given[0], gated).finally(() => {
          settled = true;
        });
        first.catch(() => {});
        await until(() => asked > 0 || settled);
        if (asked > 0) {
          const mid = await durable(h);
          assertProgress(mid.progress, new Map(), 'nothing committed while extraTxn is pending');
          assertRows(mid.rows, [], 'no rows while extraTxn is pending');
        }
        release();
        await first;
        await d.flush();
        let s = await durable(h);
        assertProgress(s.markers, given[0].lastOffsets, 'the markers of the batch');
        assertProgress(s.progress, given[0].lastOffsets, 'the progress of the batch');
        // Several batches (a buffering sink commits some together), then flush.
        for (const b of given.slice(1, 4)) await d.write(b);
        await d.flush();
        s = await durable(h);
        assertProgress(s.markers, through(given, 4), 'the markers of the last batch committed');
        // extraTxn fails (the DLQ write failed): the batch fails, nothing of it is committed.
        const failing: ExtraTxn = async () => {
          throw new Error('the DLQ write failed');
        };
        await assert.rejects(async () => {
          await d.write(given[4], failing);
          await d.flush();
        });
        await h.sink.settle?.();
        s = await durable(h);
        assertProgress(s.progress, through(given, 4), 'the failed batch moved no progress');
        assertProgress(s.markers, through(given, 4), 'the failed batch moved no marker');
        assertRows(s.rows, factory.expected(committed(given, s.progress)), 'no rows of the failed batch');
        // Retried (open again, as the runtime does), it commits.
        await d.open();
        await d.write(given[4]);
        await d.flush();
        s = await durable(h);
        assertProgress(s.progress, through(given, 5), 'the retried batch');
        assertProgress(s.markers, through(given, 5), 'the retried batch markers');
        assertRows(s.rows, factory.expected(committed(given, s.progress)), 'every batch once');
      }));

    test('flush commits what the sink holds; durableThrough never claims a batch a fresh open does not show', () =>
      withSink(factory, async (h, d) => {
        await d.open();
        const given = batches(makeLog(5, 40), 8, 5);
        const w = writeAll(d, given);
        await w.run(0, () => assertClaims(h, given, w.claims));
        const s = await durable(h);
        assertProgress(s.progress, through(given, given.length), 'after flush: every batch');
        assertRows(s.rows, factory.expected(committed(given, s.progress)), 'after flush: every row');
        assert.ok(w.claims.length > 0, 'some result (at the latest, flush) claims the batches durable');
        assert.equal(w.claims[w.claims.length - 1].n, given.length, 'flush claims every batch');
      }));

    test('settle resolves after a failed write; close works after failures; the storage stays usable', () =>
      withSink(factory, async (h, d) => {
        await h.sink.settle?.();
        await d.open();
        const given = batches(makeLog(6, 20), 2, 5);
        await d.write(given[0]);
        const failing: ExtraTxn = async () => {
          throw new Error('injected: the DLQ write failed');
        };
        await assert.rejects(async () => {
          await d.write(given[1], failing);
          await d.flush();
        });
        await h.sink.settle?.();
        await h.sink.settle?.();
        await closeSink(h.sink);
        // What was committed before the failure (if anything) is consistent; a fresh sink goes on.
        await assertConsistent(h, factory, given, 'after the failed write');
        const fresh = await Driver.start(h, await h.fresh());
        try {
          await fresh.open();
          const from = fresh.progress.size === 0 ? 0 : 1;
          for (const b of given.slice(from)) await fresh.write(b);
          await fresh.flush();
          assert.equal(await assertConsistent(h, factory, given, 'after the retry'), given.length);
        } finally {
          await closeSink(fresh.sink);
          await fresh.close();
        }
      }));

    for (const kind of opts.faults ?? (['error-before', 'error-after', 'hang', 'mixed'] as const)) {
      for (const seed of opts.seeds ?? [1, 2, 3]) {
        test(`storage failing (${kind}, seed ${seed}): each batch whole with its progress or not at all`, () =>
          faultRound(factory, kind, seed));
      }
    }
  });
}
