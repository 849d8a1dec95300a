/**
 * The contract every `ObjectStore` passes (src/storage/object-store.ts): LocalStore
 * (local.test.ts), MemoryStore (memory.test.ts) and S3Store (s3.test.ts) register it
 * with their own `makeStore`, which must return a fresh, empty store on every call.
 * The concurrency rules (mutual exclusion, atomic visibility) live in
 * contract-concurrency.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ErrorCode } from '../../src/core/errors.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import type { ConcurrencyOptions } from './contract-concurrency.ts';
import { concurrencyContract } from './contract-concurrency.ts';

export interface StoreContractOptions extends ConcurrencyOptions {
  /** Timeout of each test in ms (default 60,000). */
  testTimeoutMs?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

/** An assert.rejects matcher for a TributaryError with `code` that mentions `path`. */
export function failsWith(code: ErrorCode, path?: string) {
  return (err: unknown): boolean => {
    assert.ok(isTributaryError(err, code), `expected TributaryError ${code}, got ${String(err)}`);
    if (path !== undefined)
      assert.ok(err.message.includes(path), `message should name '${path}': ${err.message}`);
    return true;
  };
}

export function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: content differs`);
}

const paths = (metas: { path: string }[]): string[] => metas.map((m) => m.path);
const lexicographic = (xs: string[]): string[] => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Paths with characters that need escaping in URLs, Hive partitions or shells. */
const AWKWARD_PATHS = [
  'sp ace/a b.txt',
  'pct/100%.bin',
  'pct/%41%2F',
  'p=a%3Ab/part-0.parquet',
  'date=2024-01-01/hour=00/x.json',
  'uni/ünïcödé/日本語.txt',
  'uni/😀.bin',
  'colon/a:b:c',
  'plus/a+b&c=d?e#f',
  'quote/it\'s "q"',
];

export function storeContract(
  name: string,
  makeStore: () => Promise<ObjectStore>,
  opts: StoreContractOptions = {},
): void {
  const timeout = opts.testTimeoutMs ?? 60_000;

  describe(`ObjectStore contract: ${name}`, { timeout }, () => {
    test('put then get returns the same bytes: binary, empty and large (8 MiB)', async () => {
      const store = await makeStore();
      const binary = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const large = randomBytes(8 * 1024 * 1024);
      await store.put('rt/binary.bin', binary);
      await store.put('rt/empty', new Uint8Array(0));
      await store.put('rt/large.bin', large);
      sameBytes(await store.get('rt/binary.bin'), binary, 'binary');
      sameBytes(await store.get('rt/empty'), new Uint8Array(0), 'empty');
      sameBytes(await store.get('rt/large.bin'), large, 'large');
      assert.equal((await store.head('rt/large.bin')).size, large.length);
    });

    test('put replaces an existing object, and the caller may reuse its buffer afterwards', async () => {
      const store = await makeStore();
      const buf = bytes('first version');
      await store.put('over/x', buf);
      buf.fill(0); // a store must not keep a reference to the caller's bytes
      assert.equal(text(await store.get('over/x')), 'first version');
      await store.put('over/x', bytes('2nd'));
      assert.equal(text(await store.get('over/x')), '2nd');
      assert.equal((await store.head('over/x')).size, 3);
      assert.deepEqual(paths(await store.list('over/')), ['over/x']);
    });

    test('getRange returns bytes [start, end), clamped to the object', async () => {
      const store = await makeStore();
      await store.put('r/abc', bytes('0123456789'));
      assert.equal(text(await store.getRange('r/abc', 0, 4)), '0123');
      assert.equal(text(await store.getRange('r/abc', 3, 7)), '3456');
      assert.equal(text(await store.getRange('r/abc', 6, 100)), '6789', 'end past the size is clamped');
      assert.equal(text(await store.getRange('r/abc', 0, 10)), '0123456789');
      assert.equal((await store.getRange('r/abc', 10, 20)).length, 0, 'start at the size');
      assert.equal((await store.getRange('r/abc', 15, 20)).length, 0, 'start past the size');
      assert.equal((await store.getRange('r/abc', 4, 4)).length, 0, 'empty range');
      await store.put('r/empty', new Uint8Array(0));
      assert.equal((await store.getRange('r/empty', 0, 10)).length, 0, 'range of an empty object');

      // The tail of a large object, as a Parquet reader fetches its footer.
      const large = randomBytes(3 * 1024 * 1024 + 17);
      await store.put('r/large', large);
      const tail = await store.getRange('r/large', large.length - 8, large.length + 1000);
      sameBytes(tail, large.subarray(large.length - 8), 'tail of a large object');
      const middle = await store.getRange('r/large', 1024 * 1024, 2 * 1024 * 1024);
      sameBytes(middle, large.subarray(1024 * 1024, 2 * 1024 * 1024), 'middle MiB');
    });

    test('head gives the size and a modification time; list gives the same size', async () => {
      const store = await makeStore();
      await store.put('h/one', bytes('12345'));
      const meta = await store.head('h/one');
      assert.equal(meta.path, 'h/one');
      assert.equal(meta.size, 5);
      assert.ok(
        Number.isFinite(meta.lastModified) && meta.lastModified >= 0,
        `lastModified ${meta.lastModified}`,
      );
      const [listed] = await store.list('h/');
      assert.equal(listed.path, 'h/one');
      assert.equal(listed.size, 5);
      assert.ok(Number.isFinite(listed.lastModified));
    });

    test('list returns every object under a prefix, in lexicographic order of path', async () => {
      const store = await makeStore();
      // Written out of order; '-' (0x2d) < '.' < '/' (0x2f) < '0' decides the order of
      // names that share a stem, as it does for Delta's zero-padded commit files.
      const all = [
        'b',
        'a0',
        'a/z',
        'a-b',
        'a/b/c/d',
        'a.b',
        'ab',
        'a/a/c',
        '_delta_log/00000000000000000010.json',
        '_delta_log/00000000000000000002.json',
        '_delta_log/00000000000000000010.checkpoint.parquet',
        '_delta_log/_last_checkpoint',
      ];
      for (const p of all) await store.put(p, bytes(p));
      assert.deepEqual(paths(await store.list('')), lexicographic(all));
      assert.deepEqual(paths(await store.list('a/')), ['a/a/c', 'a/b/c/d', 'a/z'], 'nested, under a folder');
      assert.deepEqual(paths(await store.list('a')), lexicographic(all.filter((p) => p.startsWith('a'))));
      assert.deepEqual(paths(await store.list('_delta_log/0000000000000000001')), [
        '_delta_log/00000000000000000010.checkpoint.parquet',
        '_delta_log/00000000000000000010.json',
      ]);
      const sizes = new Map((await store.list('')).map((m) => [m.path, m.size]));
      for (const p of all) assert.equal(sizes.get(p), bytes(p).length, `size of ${p}`);
    });

    test('list by a prefix that ends inside a name matches across folders', async () => {
      const store = await makeStore();
      for (const p of ['dir/x', 'dir2/y', 'dirt', 'di', 'other/dir/z', 'dir/file1', 'dir/file2', 'dir/other'])
        await store.put(p, bytes(p));
      assert.deepEqual(paths(await store.list('dir')), [
        'dir/file1',
        'dir/file2',
        'dir/other',
        'dir/x',
        'dir2/y',
        'dirt',
      ]);
      assert.deepEqual(paths(await store.list('dir/fi')), ['dir/file1', 'dir/file2']);
      assert.deepEqual(paths(await store.list('dir/x')), ['dir/x'], 'a prefix equal to a whole path');
    });

    test('list of a prefix with no objects is empty', async () => {
      const store = await makeStore();
      assert.deepEqual(await store.list(''), [], 'a fresh store');
      await store.put('p/q/r', bytes('x'));
      assert.deepEqual(await store.list('zzz'), []);
      assert.deepEqual(await store.list('p/zzz/'), []);
      assert.deepEqual(await store.list('p/q/r/'), [], 'below an object is nothing');
      assert.deepEqual(await store.list('p/qq'), []);
    });

    test('list sees an object as soon as its put completed, and not after its delete', async () => {
      const store = await makeStore();
      for (let i = 0; i < 5; i++) {
        const p = `log/${String(i).padStart(20, '0')}.json`;
        await store.putIfAbsent(p, bytes(`commit ${i}`));
        const listed = paths(await store.list('log/'));
        assert.equal(listed.length, i + 1);
        assert.equal(listed.at(-1), p);
      }
      await store.delete('log/00000000000000000004.json');
      assert.equal((await store.list('log/')).length, 4);
    });

    test('get, getRange and head of a missing object fail with STORAGE_NOT_FOUND naming the path', async () => {
      const store = await makeStore();
      await assert.rejects(store.get('missing/x.json'), failsWith('STORAGE_NOT_FOUND', 'missing/x.json'));
      await assert.rejects(
        store.getRange('missing/x.json', 0, 10),
        failsWith('STORAGE_NOT_FOUND', 'missing/x.json'),
      );
      await assert.rejects(store.getRange('missing/x.json', 5, 5), failsWith('STORAGE_NOT_FOUND'));
      await assert.rejects(store.head('missing/x.json'), failsWith('STORAGE_NOT_FOUND', 'missing/x.json'));
    });

    test('a prefix of other objects (a "folder") is not an object', async () => {
      const store = await makeStore();
      await store.put('folder/inner/x', bytes('x'));
      await assert.rejects(store.get('folder'), failsWith('STORAGE_NOT_FOUND'));
      await assert.rejects(store.head('folder/inner'), failsWith('STORAGE_NOT_FOUND'));
      await assert.rejects(store.getRange('folder', 0, 1), failsWith('STORAGE_NOT_FOUND'));
      await store.delete('folder'); // deletes nothing
      assert.equal(text(await store.get('folder/inner/x')), 'x');
      // ... and nothing lies below an object.
      await assert.rejects(store.get('folder/inner/x/y'), failsWith('STORAGE_NOT_FOUND'));
      await assert.rejects(store.head('folder/inner/x/y'), failsWith('STORAGE_NOT_FOUND'));
      await store.delete('folder/inner/x/y');
      assert.deepEqual(paths(await store.list('folder')), ['folder/inner/x']);
    });

    test('delete removes an object and is idempotent', async () => {
      const store = await makeStore();
      await store.put('d/a', bytes('a'));
      await store.put('d/b', bytes('b'));
      await store.delete('d/a');
      await assert.rejects(store.get('d/a'), failsWith('STORAGE_NOT_FOUND'));
      await store.delete('d/a'); // again
      await store.delete('d/never-existed');
      await store.delete('nowhere/at/all');
      assert.deepEqual(paths(await store.list('d/')), ['d/b']);
    });

    test('invalid paths are refused with STORAGE_INVALID_PATH', async () => {
      const store = await makeStore();
      for (const bad of ['', '/abs', 'a//b', '../up', 'a/./b', 'a/../b', 'trailing/']) {
        await assert.rejects(store.put(bad, bytes('x')), failsWith('STORAGE_INVALID_PATH'), `put '${bad}'`);
        await assert.rejects(store.get(bad), failsWith('STORAGE_INVALID_PATH'), `get '${bad}'`);
        await assert.rejects(store.putIfAbsent(bad, bytes('x')), failsWith('STORAGE_INVALID_PATH'));
      }
      assert.deepEqual(await store.list(''), [], 'nothing was written');
    });

    test('paths with spaces, %, =, :, quotes and unicode round-trip through put, get, head and list', async () => {
      const store = await makeStore();
      for (const p of AWKWARD_PATHS) await store.put(p, bytes(`content of ${p}`));
      for (const p of AWKWARD_PATHS) {
        assert.equal(text(await store.get(p)), `content of ${p}`, p);
        assert.equal((await store.head(p)).path, p);
        assert.equal((await store.head(p)).size, bytes(`content of ${p}`).length, p);
      }
      assert.deepEqual(paths(await store.list('')), lexicographic(AWKWARD_PATHS));
      assert.deepEqual(paths(await store.list('pct/')), ['pct/%41%2F', 'pct/100%.bin']);
      assert.deepEqual(paths(await store.list('uni/ü')), ['uni/ünïcödé/日本語.txt']);
      // '%41%2F' must not be decoded to 'A/' anywhere on the way.
      await assert.rejects(store.get('pct/A'), failsWith('STORAGE_NOT_FOUND'));
      assert.deepEqual(paths(await store.list('pct/A')), []);
      await assert.rejects(
        store.putIfAbsent('colon/a:b:c', bytes('again')),
        failsWith('STORAGE_ALREADY_EXISTS'),
      );
      await store.putIfAbsent('colon/new:one', bytes('n'));
      await store.delete('sp ace/a b.txt');
      await assert.rejects(store.get('sp ace/a b.txt'), failsWith('STORAGE_NOT_FOUND'));
    });

    test('putIfAbsent writes a new object once and refuses an existing one', async () => {
      const store = await makeStore();
      await store.putIfAbsent('_delta_log/00000000000000000000.json', bytes('v0'));
      assert.equal(text(await store.get('_delta_log/00000000000000000000.json')), 'v0');
      await assert.rejects(
        store.putIfAbsent('_delta_log/00000000000000000000.json', bytes('other writer')),
        failsWith('STORAGE_ALREADY_EXISTS', '_delta_log/00000000000000000000.json'),
      );
      assert.equal(text(await store.get('_delta_log/00000000000000000000.json')), 'v0', 'unchanged');
      await store.put('plain', bytes('by put'));
      await assert.rejects(store.putIfAbsent('plain', bytes('x')), failsWith('STORAGE_ALREADY_EXISTS'));
      await store.putIfAbsent('empty-first', new Uint8Array(0));
      await assert.rejects(store.putIfAbsent('empty-first', bytes('x')), failsWith('STORAGE_ALREADY_EXISTS'));
      assert.equal((await store.get('empty-first')).length, 0);
      await store.delete('plain');
      await store.putIfAbsent('plain', bytes('after delete'));
      assert.equal(text(await store.get('plain')), 'after delete');
      assert.deepEqual(paths(await store.list('')), [
        '_delta_log/00000000000000000000.json',
        'empty-first',
        'plain',
      ]);
    });

    concurrencyContract(makeStore, opts);
  });
}
