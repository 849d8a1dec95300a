/**
 * The checks orders-workers-s3.test.ts makes of a maintenance lease's history refuse what
 * they must: two holders at once, a missing record, an OPTIMIZE outside its holder's
 * tenure; and accept a killed holder taken over before its expiry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LeaseRecord } from '../../src/storage/lease.ts';
import { assertWithinTenures, tenures } from './maintenance-history.ts';

const rec = (seq: number, holder: string, pid: number, at: number, released = false): LeaseRecord => ({
  seq,
  holder,
  pid,
  acquiredAt: at,
  expiresAt: at + 1000,
  ...(released && { released }),
});
const history = (...rs: LeaseRecord[]) => new Map(rs.map((r) => [r.seq, r]));

test('lease history: take, release, take again by another is one holder at a time', () => {
  const rs = history(
    rec(1, 'a', 1, 0),
    rec(2, 'a', 1, 100, true),
    rec(3, 'b', 2, 150),
    rec(4, 'b', 2, 400, true),
  );
  const held = tenures(rs, new Set());
  assert.deepEqual(
    held.map((t) => [t.holder, t.from, t.to]),
    [
      ['a', 0, 100],
      ['b', 150, 400],
    ],
  );
  assertWithinTenures('t', [{ version: 3, timestamp: 90, holder: 'a', seq: 1 }], rs, held);
  assert.throws(
    () => assertWithinTenures('t', [{ version: 3, timestamp: 120, holder: 'a', seq: 1 }], rs, held),
    /inside a's tenure/,
  );
});

test('lease history: a take-over before the holder released or expired is refused, unless the holder was killed', () => {
  const rs = history(rec(1, 'a', 1, 0), rec(2, 'b', 2, 500));
  assert.throws(() => tenures(rs, new Set()), /while a held it/);
  assert.equal(tenures(rs, new Set([1])).length, 2);
  assert.equal(tenures(history(rec(1, 'a', 1, 0), rec(2, 'b', 2, 1000)), new Set()).length, 2);
});

test('lease history: a record missing from the history is refused', () => {
  assert.throws(
    () => tenures(history(rec(1, 'a', 1, 0), rec(3, 'b', 2, 2000)), new Set()),
    /record 2 was seen/,
  );
});
