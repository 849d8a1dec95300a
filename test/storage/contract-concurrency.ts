/**
 * The concurrency rules of the ObjectStore contract: mutual exclusion of putIfAbsent
 * (in one process, and across processes for stores that processes can share) and
 * atomic visibility of writes. Registered by storeContract (contract.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTributaryError } from '../../src/core/errors.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';

export interface ConcurrencyOptions {
  /**
   * Run the cross-process putIfAbsent race: child processes open the store by its
   * `url` (src/storage/open.ts) with this environment added. Leave out for stores that
   * other processes cannot open (memory://).
   */
  crossProcess?: { env?: Record<string, string>; processes?: number; rounds?: number };
  /** Concurrent putIfAbsent calls per path in one process (default 16). */
  writers?: number;
}

const CHILD = fileURLToPath(new URL('./fixtures/put-if-absent-child.ts', import.meta.url));

/** A payload that names its writer, large enough that writing it is not instantaneous. */
function payload(writer: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const id = new TextEncoder().encode(`${writer}\n`);
  for (let i = 0; i < size; i += id.length) out.set(id.subarray(0, Math.min(id.length, size - i)), i);
  return out;
}

const writerOf = (data: Uint8Array): string => new TextDecoder().decode(data.subarray(0, data.indexOf(10)));

export function concurrencyContract(makeStore: () => Promise<ObjectStore>, opts: ConcurrencyOptions): void {
  const writers = opts.writers ?? 16;

  test(`putIfAbsent: of ${writers} concurrent writers of one path exactly one wins`, async () => {
    const store = await makeStore();
    for (let round = 0; round < 5; round++) {
      const path = `_delta_log/${String(round).padStart(20, '0')}.json`;
      const results = await Promise.allSettled(
        Array.from({ length: writers }, (_, w) => store.putIfAbsent(path, payload(`w${w}`, 64 * 1024))),
      );
      const winners = results.flatMap((r, w) => (r.status === 'fulfilled' ? [`w${w}`] : []));
      assert.equal(winners.length, 1, `round ${round}: winners ${winners.join(', ')}`);
      for (const r of results) {
        if (r.status === 'rejected') {
          assert.ok(isTributaryError(r.reason, 'STORAGE_ALREADY_EXISTS'), `a loser failed with ${r.reason}`);
        }
      }
      const stored = await store.get(path);
      assert.equal(writerOf(stored), winners[0], 'the stored object is the winner’s');
      assert.equal(stored.length, 64 * 1024);
    }
  });

  test('a reader sees a whole object or none, never part of one, while it is written', async () => {
    const store = await makeStore();
    const size = 2 * 1024 * 1024;
    const versions = ['v0', 'v1', 'v2', 'v3'].map((v) => payload(v, size));
    await store.put('atomic/obj', versions[0]);
    let writing = true;
    let reads = 0;
    const writer = (async () => {
      try {
        for (const v of versions.slice(1)) await store.put('atomic/obj', v);
      } finally {
        writing = false;
      }
    })();
    const fresh = payload('new', size);
    const newcomer = store.putIfAbsent('atomic/new', fresh);
    // Bounded: stops when the writes are done, and after at most 200 reads.
    while (writing && reads < 200) {
      const [data, maybeNew] = await Promise.all([
        store.get('atomic/obj'),
        store.get('atomic/new').catch((err: unknown) => {
          if (isTributaryError(err, 'STORAGE_NOT_FOUND')) return undefined;
          throw err;
        }),
      ]);
      reads++;
      assert.equal(data.length, size, 'a torn read of a put');
      const who = writerOf(data);
      assert.ok(Buffer.from(data).equals(Buffer.from(payload(who, size))), `mixed content after '${who}'`);
      if (maybeNew !== undefined)
        assert.ok(Buffer.from(maybeNew).equals(Buffer.from(fresh)), 'a torn putIfAbsent');
    }
    await writer;
    await newcomer;
    assert.equal(writerOf(await store.get('atomic/obj')), 'v3');
    assert.deepEqual(
      (await store.list('atomic/')).map((m) => m.path),
      ['atomic/new', 'atomic/obj'],
      'no temporary objects are listed',
    );
  });

  const cross = opts.crossProcess;
  if (cross === undefined) return;
  const processes = cross.processes ?? 4;
  const rounds = cross.rounds ?? 100;

  test(`putIfAbsent: across ${processes} processes racing on ${rounds} paths, each path has exactly one winner`, async () => {
    const store = await makeStore();
    const children = Array.from({ length: processes }, (_, i) =>
      startChild(store.url, `p${i}`, rounds, cross.env ?? {}),
    );
    try {
      await Promise.all(children.map((c) => c.ready));
      // Every child has loaded and opened the store: start them together.
      for (const c of children) c.go();
      const wins = await Promise.all(children.map((c) => c.done));
      const winnersByPath = new Map<string, string[]>();
      wins.forEach((paths, i) => {
        for (const p of paths) winnersByPath.set(p, [...(winnersByPath.get(p) ?? []), `p${i}`]);
      });
      for (let r = 0; r < rounds; r++) {
        const path = `race/${String(r).padStart(5, '0')}`;
        const winners = winnersByPath.get(path) ?? [];
        assert.equal(winners.length, 1, `${path}: winners [${winners.join(', ')}]`);
        assert.equal(writerOf(await store.get(path)), winners[0], `${path} holds the winner’s bytes`);
      }
      assert.equal((await store.list('race/')).length, rounds);
    } finally {
      for (const c of children) c.kill();
    }
  });
}

interface Child {
  ready: Promise<void>;
  done: Promise<string[]>;
  go(): void;
  kill(): void;
}

/** Runs fixtures/put-if-absent-child.ts: it says `ready`, waits for `go`, races, prints its wins as JSON. */
function startChild(url: string, id: string, rounds: number, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [CHILD, url, id, String(rounds)], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout });
  let onReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    failReady = reject;
  });
  const done = new Promise<string[]>((resolve, reject) => {
    let result: string[] | undefined;
    lines.on('line', (line) => {
      if (line === 'ready') onReady();
      else if (line.startsWith('{')) result = JSON.parse(line).wins;
    });
    child.on('close', (code) => {
      const err = new Error(`race child ${id} exited with ${code} before finishing:\n${stderr}`);
      failReady(err);
      if (code === 0 && result !== undefined) resolve(result);
      else reject(err);
    });
  });
  // Surface a failed child through `ready` too; `done` is awaited later.
  done.catch(() => {});
  return {
    ready,
    done,
    go: () => child.stdin.write('go\n'),
    kill: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}
