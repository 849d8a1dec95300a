/**
 * The registry of running pipelines on a manual clock: rates over the last ten seconds
 * recomputed by hand from the counters, states (running, stopped, failed with its
 * error), retried errors kept and counted by code.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { TributaryError } from '../../src/core/errors.ts';
import { RunningPipelines } from '../../src/server/pipelines/registry.ts';
import { Pipeline } from '../../src/stream/pipeline.ts';
import type { Source } from '../../src/stream/types.ts';

/** A pipeline never opened: only its name and counters are used here. */
function idlePipeline(name: string): Pipeline {
  const source = { name: 'events' } as Source;
  return new Pipeline({ name, source, sinks: [] });
}

describe('RunningPipelines', () => {
  test('throughput: records and rows per second over about the last ten seconds', () => {
    const clock = new ManualClock(1_000_000);
    const registry = new RunningPipelines({ clock });
    const pipeline = idlePipeline('p');
    const e = registry.register({ pipeline });
    const m = pipeline.metrics;
    assert.equal(e.throughput().recordsInPerSecond, 0);
    // 100 records/s for 30 s, sampled each second; then 400 records/s for 5 s.
    for (let t = 1; t <= 30; t++) {
      clock.advance(1000);
      m.recordsIn += 100;
      m.sink('lake').rows += 90;
      registry.sample();
    }
    assert.equal(e.throughput().recordsInPerSecond, 100);
    assert.equal(e.throughput().sinks.lake, 90);
    assert.equal(e.throughput().intervalSeconds, 10);
    for (let t = 1; t <= 5; t++) {
      clock.advance(1000);
      m.recordsIn += 400;
      registry.sample();
    }
    // The last 10 s: 5 s at 100/s and 5 s at 400/s.
    assert.equal(e.throughput().recordsInPerSecond, (5 * 100 + 5 * 400) / 10);
  });

  test('states: running, stopped; failed keeps its error; retried errors are kept and counted', async () => {
    const clock = new ManualClock(0);
    const registry = new RunningPipelines({ clock });
    const ok = registry.register({ pipeline: idlePipeline('ok') });
    assert.equal(ok.state, 'starting');
    let finish!: () => void;
    const tracked = ok.track(new Promise<void>((r) => (finish = r)));
    assert.equal(ok.state, 'running');
    clock.advance(5000);
    finish();
    await tracked;
    assert.equal(ok.state, 'stopped');
    clock.advance(5000);
    assert.equal(ok.uptimeSeconds(), 5);

    const bad = registry.register({ pipeline: idlePipeline('bad') });
    const lines: string[] = [];
    const onRetry = bad.onRetry((err) => lines.push(String(err)));
    onRetry(new TributaryError('TABLE_COMMIT_CONFLICT', 'another writer committed first'), 1, [], 500);
    onRetry(new TributaryError('TABLE_COMMIT_CONFLICT', 'again'), 2, [new Error('also this')], 1000);
    assert.equal(lines.length, 2);
    await assert.rejects(
      bad.track(Promise.reject(new TributaryError('TABLE_CORRUPT_LOG', 'the log is broken'))),
    );
    assert.equal(bad.state, 'failed');
    assert.equal(bad.failure?.code, 'TABLE_CORRUPT_LOG');
    assert.deepEqual(
      bad.errors.map((x) => [x.code, x.attempt]),
      [
        ['TABLE_COMMIT_CONFLICT', 1],
        ['TABLE_COMMIT_CONFLICT', 2],
        [undefined, undefined],
        ['TABLE_CORRUPT_LOG', undefined],
      ],
    );
    assert.deepEqual(Object.fromEntries(bad.errorsByCode), {
      TABLE_COMMIT_CONFLICT: 2,
      INTERNAL: 1,
      TABLE_CORRUPT_LOG: 1,
    });
    assert.deepEqual(
      registry.list().map((x) => x.name),
      ['ok', 'bad'],
    );
    // A stopped pipeline's name may be registered again (a restart in the same process).
    registry.register({ pipeline: idlePipeline('ok') });
    assert.equal(registry.get('ok')?.state, 'starting');
  });
});
