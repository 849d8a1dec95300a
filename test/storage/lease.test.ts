/**
 * The storage lease (src/storage/lease.ts): one holder at a time, across processes on
 * one store; taken over after a holder dies; a holder past its expiry loses it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../src/core/clock.ts';
import { StoreLease, withLease } from '../../src/storage/lease.ts';
import { MemoryStore } from '../../src/storage/memory.ts';

const worker = join(import.meta.dirname, 'lease-worker.ts');

function runWorker(args: string[]) {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

describe('a lease kept in object storage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-lease-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('one holder at a time; the other takes over on release or after expiry and skew', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(1_000_000);
    const a = new StoreLease(store, 'l', { ttlMs: 1000, holder: 'a', clock });
    const b = new StoreLease(store, 'l', { ttlMs: 1000, holder: 'b', clock });
    assert.equal(await a.acquire(), undefined);
    assert.equal((await b.acquire())?.holder, 'a');
    clock.advance(900);
    assert.equal(await a.renew(), true, 'renewed before expiry');
    clock.advance(900);
    assert.equal((await b.acquire())?.holder, 'a', 'the renewal moved the expiry');
    clock.advance(200);
    assert.equal((await b.acquire())?.holder, 'a', 'within the skew allowance past expiry');
    clock.advance(200);
    assert.equal(await b.acquire(), undefined, 'expired by more than the skew: taken over');
    assert.equal(a.held, false);
    assert.equal(await a.renew(), false, 'the old holder cannot renew');
    await b.release();
    assert.equal(await a.acquire(), undefined, 'released: taken at once');
    assert.equal((await a.current())?.holder, 'a');
  });

  test('a holder that lost the lease while working sees it and the work is not run twice at once', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(0);
    const a = new StoreLease(store, 'l', { ttlMs: 1000, holder: 'a', clock });
    const b = new StoreLease(store, 'l', { ttlMs: 1000, holder: 'b', clock });
    const out = await withLease(a, async (held) => {
      const other = await withLease(b, async () => 'b ran');
      assert.equal(other.ran, false);
      clock.advance(2000);
      assert.equal(held.held, false, 'past its expiry the holder knows it lost the lease');
      return 'a ran';
    });
    assert.deepEqual(out, { ran: true, value: 'a ran' });
    assert.equal(await b.acquire(), undefined);
  });

  test('a take racing a release of the same holder name is not refused by the release', async () => {
    const store = new MemoryStore();
    const before = new StoreLease(store, 'l', { holder: 'p' });
    assert.equal(await before.acquire(), undefined);
    // The taker reads the lease (held by 'p', itself by name), then the release lands
    // before the taker's put of the next record.
    let released!: () => void;
    const gate = new Promise<void>((r) => {
      released = r;
    });
    const slow = Object.create(store) as MemoryStore;
    slow.putIfAbsent = async (path, data) => {
      await gate;
      return store.putIfAbsent(path, data);
    };
    const next = new StoreLease(slow, 'l', { holder: 'p' });
    const taking = next.acquire();
    await new Promise((r) => setTimeout(r, 20));
    await before.release();
    released();
    assert.equal(await taking, undefined, 'taken after the release');
    assert.equal(next.held, true);
    assert.equal((await next.current())?.released, undefined);
  });

  test('old records are pruned as the lease moves on', async () => {
    const store = new MemoryStore();
    const a = new StoreLease(store, 'l', { ttlMs: 60_000, holder: 'a' });
    for (let i = 0; i < 50; i++) {
      assert.equal(await a.acquire(), undefined);
      await a.release();
    }
    const left = await store.list('l/');
    assert.ok(left.length <= 24, `${left.length} records left`);
    assert.equal((await a.current())?.released, true);
  });

  test('four processes on one local store never run the guarded work side by side', async () => {
    const storeDir = join(dir, 'mutex');
    const trace = join(dir, 'mutex.trace');
    writeFileSync(trace, '');
    const workers = ['w1', 'w2', 'w3', 'w4'].map((n) => runWorker([storeDir, trace, n, '15', '30000']));
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0, 0, 0], workers.map((w) => w.stderr()).join('\n'));
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    let inside: string | undefined;
    const entered = new Map<string, number>();
    for (const line of lines) {
      const [what, who] = line.split(' ');
      if (what === 'enter') {
        assert.equal(inside, undefined, `${who} entered while ${inside} was inside`);
        inside = who;
        entered.set(who, (entered.get(who) ?? 0) + 1);
      } else if (what === 'exit') {
        assert.equal(inside, who);
        inside = undefined;
      } else assert.fail(`unexpected line ${line}`);
    }
    assert.deepEqual([...entered.values()], [15, 15, 15, 15]);
  });

  test('a holder killed with SIGKILL: a process of the same machine takes the lease over at once', {
    timeout: 30_000,
  }, async () => {
    const storeDir = join(dir, 'takeover');
    const trace = join(dir, 'takeover.trace');
    writeFileSync(trace, '');
    // A lease of ten minutes: waiting for its expiry would outlast the test's timeout.
    const holder = runWorker([storeDir, trace, 'doomed', 'hold', '600000']);
    while (!readFileSync(trace, 'utf8').includes('held doomed')) await sleep(20);
    holder.child.kill('SIGKILL');
    await holder.exited;
    const next = runWorker([storeDir, trace, 'heir', '1', '600000']);
    assert.equal(await next.exited, 0, next.stderr());
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    assert.deepEqual(lines.slice(1), ['enter heir', 'exit heir']);
  });
});
