/**
 * FaultyStore (src/storage/faulty.ts): with no rule it is an ObjectStore like any other
 * (the shared contract); with rules, each fault kind does to the wrapped store what it
 * says, fires only where and when its rule says, and is recorded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { FaultyStore } from '../../src/storage/faulty.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytes, storeContract, text } from './contract.ts';

storeContract('FaultyStore without rules', async () => new FaultyStore(new MemoryStore({ name: 'faulty' })));

const injected = (err: unknown) =>
  isTributaryError(err, 'STORAGE_IO') && err.retryable && err.details.injected === true;

describe('FaultyStore faults', () => {
  test('error-before: nothing reaches the store', async () => {
    const inner = new MemoryStore();
    const s = new FaultyStore(inner, { rules: [{ fault: 'error-before', calls: ['putIfAbsent'] }] });
    await assert.rejects(s.putIfAbsent('a', bytes('x')), injected);
    await assert.rejects(inner.get('a'), (e) => isTributaryError(e, 'STORAGE_NOT_FOUND'));
    await s.put('b', bytes('y')); // another call kind passes
    assert.deepEqual(s.fired, [
      { rule: 'rule0', fault: 'error-before', call: 'putIfAbsent', path: 'a', landed: false },
    ]);
  });

  test('error-after: the write lands, the answer is lost (even "already exists")', async () => {
    const inner = new MemoryStore();
    const s = new FaultyStore(inner, { rules: [{ fault: 'error-after', calls: ['putIfAbsent', 'delete'] }] });
    await assert.rejects(s.putIfAbsent('a', bytes('x')), injected);
    assert.equal(text(await inner.get('a')), 'x');
    await assert.rejects(s.putIfAbsent('a', bytes('y')), injected);
    assert.equal(text(await inner.get('a')), 'x');
    await assert.rejects(s.delete('a'), injected);
    assert.equal((await inner.list('')).length, 0);
    assert.deepEqual(
      s.fired.map((f) => [f.call, f.landed]),
      [
        ['putIfAbsent', true],
        ['putIfAbsent', false],
        ['delete', true],
      ],
    );
  });

  test('hang: the call times out, and the held write lands after the given number of later calls', async () => {
    const inner = new MemoryStore();
    const waited: number[] = [];
    const s = new FaultyStore(inner, {
      rules: [{ fault: 'hang', calls: ['putIfAbsent'], nth: [1], landAfterCalls: 2 }],
      timeoutMs: 30_000,
      sleep: async (ms) => {
        waited.push(ms);
      },
    });
    await assert.rejects(
      s.putIfAbsent('a', bytes('late')),
      (e) => injected(e) && /timed out after 30000 ms/.test(String(e)),
    );
    assert.deepEqual(waited, [30_000]);
    assert.equal(s.pending, 1);
    await assert.rejects(s.get('a'), (e) => isTributaryError(e, 'STORAGE_NOT_FOUND')); // 1st later call
    await assert.rejects(s.get('a'), (e) => isTributaryError(e, 'STORAGE_NOT_FOUND')); // 2nd
    assert.equal(text(await s.get('a')), 'late'); // landed before the 3rd was served
    assert.equal(s.pending, 0);
    assert.equal(s.fired[0].landed, true);
  });

  test('hang that never lands by itself: settle() carries it out; a taken path makes it a no-op', async () => {
    const inner = new MemoryStore();
    const s = new FaultyStore(inner, {
      rules: [{ fault: 'hang', calls: ['putIfAbsent'], nth: [1], landAfterCalls: Infinity }],
    });
    await assert.rejects(s.putIfAbsent('a', bytes('held')), injected);
    await s.putIfAbsent('a', bytes('retry'));
    await s.settle();
    assert.equal(text(await inner.get('a')), 'retry');
    assert.equal(s.fired[0].landed, false);
  });

  test('stale-list: the newest objects are left out of the listing only', async () => {
    const inner = new MemoryStore();
    const s = new FaultyStore(inner, { rules: [{ fault: 'stale-list', path: 'log/', hide: 2 }] });
    for (const name of ['log/3', 'log/1', 'log/2', 'data/x']) await s.put(name, bytes(name));
    assert.deepEqual(
      (await s.list('log/')).map((m) => m.path),
      ['log/3'],
    );
    assert.equal((await s.list('data/')).length, 1);
    assert.equal(text(await s.get('log/2')), 'log/2');
    assert.deepEqual(s.fired[0].hidden, ['log/2', 'log/1']);
  });

  test('rules match by path pattern; nth, times and after script the sequence; enabled=false passes through', async () => {
    const s = new FaultyStore(new MemoryStore(), {
      rules: [
        { name: 'first', fault: 'error-before', path: /^x\//, nth: [2] },
        { name: 'then', fault: 'error-before', path: 'y', after: 'first', times: 1 },
      ],
    });
    await s.put('y/1', bytes('')); // 'then' not armed yet
    await s.put('x/1', bytes(''));
    await assert.rejects(s.put('x/2', bytes('')), injected);
    await s.put('x/3', bytes(''));
    await assert.rejects(s.get('y/1'), injected);
    await s.get('y/1'); // times: 1
    s.enabled = false;
    s.rules = [{ fault: 'error-before' }];
    await s.get('x/1');
    assert.deepEqual(
      s.fired.map((f) => `${f.rule}:${f.call}:${f.path}`),
      ['first:put:x/2', 'then:get:y/1'],
    );
  });

  test('probability: decided by the seed, the same for the same seed, about the given rate', async () => {
    const run = async (seed: number) => {
      const s = new FaultyStore(new MemoryStore(), {
        seed,
        rules: [{ fault: 'error-before', probability: 0.3 }],
      });
      const out: boolean[] = [];
      for (let i = 0; i < 400; i++)
        out.push(
          await s.put(`p${i}`, bytes('')).then(
            () => false,
            () => true,
          ),
        );
      return out;
    };
    const a = await run(11);
    assert.deepEqual(await run(11), a);
    assert.notDeepEqual(await run(12), a);
    const rate = a.filter(Boolean).length / a.length;
    assert.ok(rate > 0.2 && rate < 0.4, `rate ${rate}`);
  });
});
