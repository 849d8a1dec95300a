/**
 * Embedded-log behaviour beyond the Log contract: segments, index seeks, retention,
 * flush policies and topic files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-segments-'));
  dirs.push(d);
  return d;
}
const value = (i: number) => Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(200 + (i % 37)) }));
const segments = (dir: string, topic: string, p = 0) =>
  readdirSync(join(dir, topic, String(p))).filter((n) => n.endsWith('.log')).length;

describe('embedded log segments', () => {
  test('rolls segments by size and reads every offset back, from any starting point', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir, segmentBytes: 32 * 1024 });
    await log.createTopic('roll', { partitions: 1 });
    const total = 3000;
    for (let i = 0; i < total; ) {
      const n = Math.min(1 + ((i * 7) % 250), total - i);
      await log.produce(
        Array.from({ length: n }, (_, k) => ({ topic: 'roll', partition: 0, value: value(i + k) })),
      );
      i += n;
    }
    assert.ok(segments(dir, 'roll') > 10, `only ${segments(dir, 'roll')} segments`);
    // Every segment has a sparse index with entries (8 bytes each) for the seeks below.
    const part = join(dir, 'roll', '0');
    for (const idx of readdirSync(part).filter((n) => n.endsWith('.idx'))) {
      const size = statSync(join(part, idx)).size;
      assert.ok(size > 0 && size % 8 === 0, `${idx}: ${size} bytes`);
    }
    await log.close();
    // A fresh reader (no cursor) seeks through the sparse index.
    const reader = new EmbeddedLog({ dir });
    for (const start of [0, 1, 137, 1499, 1500, 2222, 2999]) {
      const res = await reader.fetch('roll', 0, start, { maxRecords: 3 });
      assert.deepEqual(
        res.records.map((r) => JSON.parse(Buffer.from(r.value!).toString()).i),
        [start, start + 1, start + 2].filter((n) => n < total),
      );
      assert.equal(res.highWatermark, total);
    }
    // Sequential value batches of odd sizes cross batch and segment boundaries without loss.
    const seen: number[] = [];
    let offset = 0;
    for (let i = 0; i < 1000 && offset < total; i++) {
      const b = await reader.fetchValues('roll', 0, offset, { maxRecords: 97 });
      const text = Buffer.from(b.values).toString();
      for (const line of text.split('\n').slice(0, -1)) seen.push(JSON.parse(line).i);
      assert.equal(b.offsets[0], offset);
      offset = b.nextOffset;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: total }, (_, i) => i),
    );
    await reader.close();
  });

  test('a bad batch at the end of a sealed segment is LOG_CORRUPT, not a torn tail', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir, segmentBytes: 1024 });
    await log.createTopic('sealed', { partitions: 1 });
    for (let i = 0; i < 12; i++) await log.produce([{ topic: 'sealed', value: value(i) }]);
    await log.close();
    const part = join(dir, 'sealed', '0');
    const logs = readdirSync(part)
      .filter((n) => n.endsWith('.log'))
      .sort();
    const first = join(part, logs[0]);
    // One record per batch: the first segment's last batch holds the offset before the second segment.
    const badOffset = Number(logs[1].slice(0, 20)) - 1;
    const bytes = readFileSync(first);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(first, bytes);
    const reader = new EmbeddedLog({ dir });
    await assert.rejects(reader.fetch('sealed', 0, 0), (e: unknown) => {
      assert.ok(isTributaryError(e, 'LOG_CORRUPT'), String(e));
      assert.equal(e.details.offset, badOffset);
      return true;
    });
    // Offsets in later segments are still readable.
    const later = await reader.fetch('sealed', 0, 11);
    assert.equal(JSON.parse(Buffer.from(later.records[0].value!).toString()).i, 11);
    await reader.close();
  });

  test('a record larger than the read chunk is returned whole', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir });
    await log.createTopic('big', { partitions: 1 });
    const big = Buffer.alloc(3 * 1024 * 1024, 'b');
    await log.produce([
      { topic: 'big', value: Buffer.from('small') },
      { topic: 'big', value: big },
      { topic: 'big', value: Buffer.from('after') },
    ]);
    const res = await log.fetch('big', 0, 1, { maxBytes: 10 });
    assert.equal(res.records.length, 1);
    assert.equal(Buffer.compare(Buffer.from(res.records[0].value!), big), 0);
    const vals = await log.fetchValues('big', 0, 0);
    assert.equal(vals.count, 3);
    assert.equal(vals.values.length, 5 + 1 + big.length + 1 + 5 + 1);
    await log.close();
  });

  test('retention by size deletes the oldest sealed segments, never the active one', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir, segmentBytes: 16 * 1024 });
    await log.createTopic('bysize', { partitions: 1, retentionBytes: 64 * 1024 });
    for (let i = 0; i < 40; i++) {
      await log.produce(
        Array.from({ length: 20 }, (_, k) => ({ topic: 'bysize', value: value(i * 20 + k) })),
      );
    }
    const { earliest, latest } = await log.offsets('bysize', 0);
    assert.equal(latest, 800);
    assert.ok(earliest > 0, 'old segments were deleted');
    assert.ok(segments(dir, 'bysize') <= 6, `${segments(dir, 'bysize')} segments kept`);
    // What is left is readable from its earliest offset; older offsets are out of range.
    const res = await log.fetch('bysize', 0, earliest, { maxRecords: 1 });
    assert.equal(JSON.parse(Buffer.from(res.records[0].value!).toString()).i, earliest);
    await assert.rejects(log.fetch('bysize', 0, earliest - 1), (e: unknown) =>
      isTributaryError(e, 'LOG_OFFSET_OUT_OF_RANGE'),
    );
    await log.close();
  });

  test('retention by time follows the clock and the record timestamps', async () => {
    const dir = tempDir();
    const clock = new ManualClock(1_000_000);
    const log = new EmbeddedLog({ dir, clock, segmentBytes: 8 * 1024, retentionCheckMs: 0 });
    await log.createTopic('bytime', { partitions: 1, retentionMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      await log.produce(
        Array.from({ length: 20 }, (_, k) => ({ topic: 'bytime', value: value(i * 20 + k) })),
      );
      clock.advance(10_000);
    }
    // Now 1,100,000: records stamped before 1,040,000 are past retention.
    assert.equal(log.enforceRetention() > 0, true);
    const { earliest } = await log.offsets('bytime', 0);
    assert.ok(earliest > 0 && earliest <= 80, `earliest ${earliest}`);
    const first = await log.fetch('bytime', 0, earliest, { maxRecords: 1 });
    assert.ok(first.records[0].timestamp >= 1_000_000);
    // Far in the future everything sealed goes, but the active segment stays.
    clock.advance(10_000_000);
    log.enforceRetention();
    const offs = await log.offsets('bytime', 0);
    assert.equal(offs.latest, 200);
    assert.ok(offs.earliest < 200);
    assert.equal(segments(dir, 'bytime'), 1);
    await log.close();
  });

  test("fsync 'always' and 'interval' acknowledge durable records", async () => {
    for (const fsync of ['always', 'interval'] as const) {
      const dir = tempDir();
      const log = new EmbeddedLog({ dir, fsync, fsyncIntervalMs: 10, segmentBytes: 4096 });
      await log.createTopic('sync', { partitions: 1 });
      for (let i = 0; i < 30; i++) await log.produce([{ topic: 'sync', value: value(i) }]);
      await log.close();
      const again = new EmbeddedLog({ dir });
      assert.equal((await again.fetch('sync', 0, 0)).records.length, 30);
      await again.close();
    }
  });

  test('a deleted topic can be created again from offset 0, without old committed offsets', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir });
    await log.createTopic('again', { partitions: 1 });
    await log.produce([{ topic: 'again', value: Buffer.from('old') }]);
    await log.commitOffsets('g', [{ topic: 'again', partition: 0, offset: 1 }]);
    await log.deleteTopic('again');
    await log.createTopic('again', { partitions: 2 });
    assert.deepEqual(await log.offsets('again', 0), { earliest: 0, latest: 0 });
    assert.deepEqual(await log.committedOffsets('g', 'again'), new Map());
    const [r] = await log.produce([{ topic: 'again', partition: 0, value: Buffer.from('new') }]);
    assert.equal(r.offset, 0);
    await log.close();
  });

  test('a topic deleted by another process is LOG_TOPIC_NOT_FOUND for a producer that knew it', async () => {
    const dir = tempDir();
    const a = new EmbeddedLog({ dir });
    const b = new EmbeddedLog({ dir });
    await a.createTopic('gone', { partitions: 1 });
    assert.equal((await b.describeTopic('gone')).partitions, 1);
    await a.deleteTopic('gone');
    await assert.rejects(b.produce([{ topic: 'gone', value: Buffer.from('x') }]), (e: unknown) =>
      isTributaryError(e, 'LOG_TOPIC_NOT_FOUND'),
    );
    await a.close();
    await b.close();
  });

  test('topic names and configurations are validated', async () => {
    const log = new EmbeddedLog({ dir: tempDir() });
    for (const bad of ['', '.hidden', 'a/b', '..', 'x'.repeat(250), 'spa ce']) {
      await assert.rejects(log.createTopic(bad, { partitions: 1 }), (e: unknown) =>
        isTributaryError(e, 'CONFIG_INVALID'),
      );
    }
    for (const partitions of [0, -1, 1.5]) {
      await assert.rejects(log.createTopic('t', { partitions }), (e: unknown) =>
        isTributaryError(e, 'CONFIG_INVALID'),
      );
    }
    await assert.rejects(log.createTopic('t', { partitions: 1, retentionMs: -5 }), (e: unknown) =>
      isTributaryError(e, 'CONFIG_INVALID'),
    );
    await log.close();
  });
});
