/**
 * Crash safety of the embedded log with real processes: producers killed with SIGKILL
 * at random moments, a corrupted byte, and a second writer process.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';

const PRODUCER = join(import.meta.dirname, 'fixtures', 'producer.ts');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-crash-'));
  dirs.push(d);
  return d;
}

function startProducer(
  dir: string,
  topic: string,
  ...args: string[]
): {
  child: ChildProcess;
  lines: string[];
  exited: Promise<void>;
  waitFor: (pred: (lines: string[]) => boolean) => Promise<void>;
} {
  const child = spawn(process.execPath, [PRODUCER, dir, topic, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const waitFor = (pred: (lines: string[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pred(lines)) {
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      exited.then(() => {
        if (!pred(lines)) reject(new Error(`producer exited early: ${stderr}`));
      });
      check();
    });
  return { child, lines, exited, waitFor };
}

describe('crash safety', { timeout: 120_000 }, () => {
  test('producers killed with SIGKILL at random moments lose no acknowledged record', async () => {
    const dir = tempDir();
    const setup = new EmbeddedLog({ dir });
    await setup.createTopic('crash', { partitions: 1 });
    await setup.close();

    const acked: { id: string; offset: number }[] = [];
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      const p = startProducer(dir, 'crash', 'loop', String(round));
      // Kill after a random number of acknowledged batches, or a random delay after the first.
      const target = 1 + Math.floor(Math.random() * 30);
      await p.waitFor((l) => l.length >= 1);
      if (round % 2 === 0) await p.waitFor((l) => l.length >= target);
      else await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      p.child.kill('SIGKILL');
      await p.exited;
      for (const line of p.lines) {
        const [word, r, first, count, offset] = line.split(' ');
        assert.equal(word, 'ack');
        for (let i = 0; i < Number(count); i++) {
          acked.push({ id: `${r}-${Number(first) + i}`, offset: Number(offset) + i });
        }
      }
    }

    const log = new EmbeddedLog({ dir });
    try {
      const found: { id: string; offset: number }[] = [];
      let offset = 0;
      for (let i = 0; i < 10_000; i++) {
        const res = await log.fetch('crash', 0, offset, { maxRecords: 5000 });
        if (res.records.length === 0) break;
        for (const r of res.records)
          found.push({ id: JSON.parse(Buffer.from(r.value!).toString()).id, offset: r.offset });
        offset = res.nextOffset;
      }
      // Nothing twice, acknowledged or not.
      const ids = found.map((f) => f.id);
      assert.equal(new Set(ids).size, ids.length, 'a record appears twice');
      // Every acknowledged record at the offset it was acknowledged with.
      const byId = new Map(found.map((f) => [f.id, f.offset]));
      for (const a of acked) assert.equal(byId.get(a.id), a.offset, `acknowledged ${a.id} at ${a.offset}`);
      // In order: rounds ascending, sequence ascending and gapless within a round.
      const parsed = ids.map((id) => id.split('-').map(Number));
      for (let i = 1; i < parsed.length; i++) {
        const [r0, s0] = parsed[i - 1];
        const [r1, s1] = parsed[i];
        assert.ok(
          r1 > r0 || (r1 === r0 && s1 === s0 + 1),
          `order broken at offset ${i}: ${ids[i - 1]} then ${ids[i]}`,
        );
      }
      assert.ok(acked.length > 0);
      // Several segments were written and rolled across crashes.
      assert.ok(readdirSync(join(dir, 'crash', '0')).filter((n) => n.endsWith('.log')).length > 1);
      // The log is writable again after the last crash (the dead producer's lock is broken).
      const [r] = await log.produce([
        { topic: 'crash', partition: 0, value: new TextEncoder().encode('{"id":"after-0"}') },
      ]);
      assert.equal(r.offset, found.length);
    } finally {
      await log.close();
    }
  });

  test('a torn tail is cut off on the next open, and appends continue after it', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir });
    await log.createTopic('torn', { partitions: 1 });
    for (let i = 0; i < 3; i++)
      await log.produce([{ topic: 'torn', partition: 0, value: Buffer.from(`v${i}`) }]);
    await log.close();
    const file = join(dir, 'torn', '0', '00000000000000000000.log');
    const whole = readFileSync(file);
    // A fourth batch cut in the middle, as a killed writer leaves it.
    const other = new EmbeddedLog({ dir });
    await other.produce([{ topic: 'torn', partition: 0, value: Buffer.from('torn'.repeat(500)) }]);
    await other.close();
    const four = readFileSync(file);
    writeFileSync(file, four.subarray(0, whole.length + Math.floor((four.length - whole.length) / 2)));

    const reader = new EmbeddedLog({ dir });
    const before = await reader.fetch('torn', 0, 0);
    assert.deepEqual(
      before.records.map((r) => Buffer.from(r.value!).toString()),
      ['v0', 'v1', 'v2'],
    );
    assert.equal(before.highWatermark, 3);
    const [res] = await reader.produce([{ topic: 'torn', partition: 0, value: Buffer.from('v3') }]);
    assert.equal(res.offset, 3);
    // The torn bytes are gone from the file, not just skipped: it holds exactly four batches.
    assert.equal(readFileSync(file).length, (whole.length / 3) * 4);
    const afterRecovery = await reader.fetch('torn', 0, 0);
    assert.deepEqual(
      afterRecovery.records.map((r) => Buffer.from(r.value!).toString()),
      ['v0', 'v1', 'v2', 'v3'],
    );
    await reader.close();
  });

  test('a corrupted byte in the middle of a segment is LOG_CORRUPT with its offset, never data', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir });
    await log.createTopic('rot', { partitions: 1 });
    const positions: number[] = [];
    const file = join(dir, 'rot', '0', '00000000000000000000.log');
    for (let i = 0; i < 10; i++) {
      positions.push(readFileSync(file).length);
      await log.produce([
        { topic: 'rot', partition: 0, value: Buffer.from(`{"n":${i},"pad":"${'x'.repeat(50)}"}`) },
      ]);
    }
    await log.close();
    const bytes = readFileSync(file);
    bytes[positions[6] + 60] ^= 0x01; // inside record 6's value
    writeFileSync(file, bytes);

    const reader = new EmbeddedLog({ dir });
    const ok = await reader.fetch('rot', 0, 0, { maxRecords: 6 });
    assert.equal(ok.records.length, 6);
    const isCorruptAt6 = (err: unknown) => {
      assert.ok(isTributaryError(err, 'LOG_CORRUPT'), String(err));
      assert.equal(err.details.topic, 'rot');
      assert.equal(err.details.partition, 0);
      assert.equal(err.details.offset, 6);
      assert.match(err.message, /offset 6\b/);
      return true;
    };
    await assert.rejects(reader.fetch('rot', 0, 0), isCorruptAt6);
    await assert.rejects(reader.fetch('rot', 0, 6), isCorruptAt6);
    await assert.rejects(reader.fetchValues('rot', 0, 3), isCorruptAt6);
    // A writer refuses to "recover" by truncating acknowledged data.
    await assert.rejects(
      reader.produce([{ topic: 'rot', partition: 0, value: Buffer.from('x') }]),
      isCorruptAt6,
    );
    await reader.close();
  });

  test('a second writer process is refused LOG_LOCKED while the first lives, and takes over after it dies', async () => {
    const dir = tempDir();
    const setup = new EmbeddedLog({ dir });
    await setup.createTopic('locked', { partitions: 2 });
    await setup.close();
    const holder = startProducer(dir, 'locked', 'hold');
    await holder.waitFor((l) => l.includes('ready'));
    const second = startProducer(dir, 'locked', 'once', '1');
    await second.exited;
    assert.notEqual(second.child.exitCode, 0);
    assert.deepEqual(second.lines, []);

    const log = new EmbeddedLog({ dir });
    try {
      await assert.rejects(
        log.produce([{ topic: 'locked', partition: 0, value: Buffer.from('no') }]),
        (err: unknown) => {
          assert.ok(isTributaryError(err, 'LOG_LOCKED'), String(err));
          assert.equal(err.details.pid, holder.child.pid);
          return true;
        },
      );
      // Other partitions are free; reading the locked one works.
      await log.produce([{ topic: 'locked', partition: 1, value: Buffer.from('free') }]);
      assert.equal((await log.fetch('locked', 0, 0)).records.length, 1);
      holder.child.kill('SIGKILL');
      await holder.exited;
      const [r] = await log.produce([{ topic: 'locked', partition: 0, value: Buffer.from('mine now') }]);
      assert.equal(r.offset, 1);
    } finally {
      holder.child.kill('SIGKILL');
      await log.close();
    }
  });

  test('a reader tailing a live producer process only ever sees whole records, in order', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir });
    await log.createTopic('live', { partitions: 1 });
    const p = startProducer(dir, 'live', 'loop', '0');
    try {
      let offset = 0;
      let expectedSeq = 0;
      for (let i = 0; i < 100_000 && expectedSeq < 30_000; i++) {
        const b = await log.fetchValues('live', 0, offset, { maxRecords: 3000, maxWaitMs: 30_000 });
        const lines = Buffer.from(b.values).toString().split('\n');
        assert.equal(lines.length, b.count + 1);
        for (let k = 0; k < b.count; k++) {
          assert.equal(JSON.parse(lines[k]).id, `0-${expectedSeq}`, `offset ${b.offsets[k]}`);
          assert.equal(b.offsets[k], expectedSeq);
          expectedSeq++;
        }
        offset = b.nextOffset;
      }
      assert.ok(expectedSeq >= 30_000);
    } finally {
      p.child.kill('SIGKILL');
      await p.exited;
      await log.close();
    }
  });

  test('a reader in another process tails appends as they happen', async () => {
    const dir = tempDir();
    const log = new EmbeddedLog({ dir });
    await log.createTopic('tail', { partitions: 1 });
    const child = startProducer(dir, 'tail', 'once', '50');
    const got: string[] = [];
    let offset = 0;
    for (let i = 0; i < 1000 && got.length < 50; i++) {
      const res = await log.fetch('tail', 0, offset, { maxWaitMs: 60_000 });
      got.push(...res.records.map((r) => Buffer.from(r.value!).toString()));
      offset = res.nextOffset;
    }
    await child.exited;
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => `child-${i}`),
    );
    await log.close();
  });
});
