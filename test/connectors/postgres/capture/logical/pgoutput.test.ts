/**
 * The pgoutput and replication-protocol codecs against messages built byte by byte from
 * PostgreSQL's documented formats ("Logical Replication Message Formats", "Streaming
 * Replication Protocol"): every message kind the capture reads, the three tuple value
 * kinds (text, null, unchanged TOAST), old-tuple variants, and messages cut short. The
 * default slot names: valid for PostgreSQL and distinct for distinct captures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeCopyData,
  decodePgOutput,
  pgTimeToMs,
  standbyStatus,
} from '../../../../../src/connectors/postgres/capture/logical/pgoutput.ts';
import { checkName, defaultName } from '../../../../../src/connectors/postgres/capture/logical/setup.ts';

/** Big-endian writers for building messages. */
const u8 = (n: number) => Buffer.from([n]);
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const str = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), u8(0)]);
const tag = (c: string) => Buffer.from(c, 'ascii');
const text = (s: string) => {
  const v = Buffer.from(s, 'utf8');
  return Buffer.concat([tag('t'), i32(v.length), v]);
};
const tuple = (...values: Buffer[]) => Buffer.concat([i16(values.length), ...values]);

/** 2025-11-18T10:00:00.123456Z in µs since 2000-01-01. */
const T_US = BigInt(Date.UTC(2025, 10, 18, 10, 0, 0, 123)) * 1000n + 456n - 946_684_800_000_000n;

describe('pgoutput messages', () => {
  it('decodes Begin, Commit, Relation, Insert, Update, Delete, Truncate, Type, Origin', () => {
    assert.deepEqual(decodePgOutput(Buffer.concat([tag('B'), u64(0x16b374d848n), u64(T_US), i32(745)])), {
      tag: 'begin',
      finalLsn: 0x16b374d848n,
      commitTime: Date.UTC(2025, 10, 18, 10, 0, 0, 123),
      xid: 745,
    });
    assert.deepEqual(
      decodePgOutput(Buffer.concat([tag('C'), u8(0), u64(0x16b374d848n), u64(0x16b374d878n), u64(T_US)])),
      {
        tag: 'commit',
        commitLsn: 0x16b374d848n,
        endLsn: 0x16b374d878n,
        commitTime: Date.UTC(2025, 10, 18, 10, 0, 0, 123),
      },
    );
    const rel = decodePgOutput(
      Buffer.concat([
        tag('R'),
        i32(16390),
        str('public'),
        str('orders'),
        tag('f'),
        i16(2),
        u8(1),
        str('order_id'),
        i32(23),
        i32(-1),
        u8(0),
        str('naïve col'),
        i32(25),
        i32(-1),
      ]),
    );
    assert.deepEqual(rel, {
      tag: 'relation',
      oid: 16390,
      schema: 'public',
      name: 'orders',
      replicaIdentity: 'full',
      columns: [
        { name: 'order_id', typeOid: 23, typmod: -1, key: true },
        { name: 'naïve col', typeOid: 25, typmod: -1, key: false },
      ],
    });
    assert.equal(
      (
        decodePgOutput(Buffer.concat([tag('R'), i32(1), str(''), str('t'), tag('d'), i16(0)])) as {
          schema: string;
        }
      ).schema,
      'pg_catalog',
    );
    assert.deepEqual(
      decodePgOutput(Buffer.concat([tag('I'), i32(16390), tag('N'), tuple(text('1'), tag('n'))])),
      {
        tag: 'insert',
        oid: 16390,
        after: ['1', null],
      },
    );
    // UPDATE with the old row (REPLICA IDENTITY FULL): an unchanged TOASTed value is 'u' in the new row.
    assert.deepEqual(
      decodePgOutput(
        Buffer.concat([
          tag('U'),
          i32(16390),
          tag('O'),
          tuple(text('1'), text('big')),
          tag('N'),
          tuple(text('1'), tag('u')),
        ]),
      ),
      { tag: 'update', oid: 16390, before: ['1', 'big'], keyOnly: false, after: ['1', undefined] },
    );
    assert.deepEqual(
      decodePgOutput(Buffer.concat([tag('U'), i32(16390), tag('N'), tuple(text('2'), text('é'))])),
      {
        tag: 'update',
        oid: 16390,
        before: null,
        keyOnly: false,
        after: ['2', 'é'],
      },
    );
    assert.deepEqual(
      decodePgOutput(
        Buffer.concat([
          tag('U'),
          i32(16390),
          tag('K'),
          tuple(text('1'), tag('n')),
          tag('N'),
          tuple(text('2'), tag('n')),
        ]),
      ),
      { tag: 'update', oid: 16390, before: ['1', null], keyOnly: true, after: ['2', null] },
    );
    assert.deepEqual(
      decodePgOutput(Buffer.concat([tag('D'), i32(16390), tag('O'), tuple(text('1'), text(''))])),
      {
        tag: 'delete',
        oid: 16390,
        before: ['1', ''],
        keyOnly: false,
      },
    );
    assert.deepEqual(decodePgOutput(Buffer.concat([tag('T'), i32(2), u8(3), i32(16390), i32(16400)])), {
      tag: 'truncate',
      oids: [16390, 16400],
      cascade: true,
      restartIdentity: true,
    });
    assert.deepEqual(decodePgOutput(Buffer.concat([tag('Y'), i32(70000), str('public'), str('mood')])), {
      tag: 'type',
      oid: 70000,
      schema: 'public',
      name: 'mood',
    });
    assert.deepEqual(decodePgOutput(Buffer.concat([tag('O'), u64(5n), str('node_a')])), {
      tag: 'origin',
      lsn: 5n,
      name: 'node_a',
    });
  });

  it('refuses a message cut short, an unknown kind, and binary values', () => {
    const insert = Buffer.concat([tag('I'), i32(1), tag('N'), tuple(text('12345'))]);
    assert.throws(() => decodePgOutput(insert.subarray(0, insert.length - 2)), /ends early/);
    assert.throws(
      () => decodePgOutput(Buffer.concat([tag('R'), i32(1), Buffer.from('public')])),
      /inside a string/,
    );
    assert.throws(() => decodePgOutput(tag('Z')), /unknown pgoutput message 'Z'/);
    assert.throws(
      () => decodePgOutput(Buffer.concat([tag('I'), i32(1), tag('N'), i16(1), tag('b'), i32(1), u8(7)])),
      /binary value/,
    );
  });
});

describe('replication protocol messages', () => {
  it('decodes XLogData and keepalives, and encodes standby status updates', () => {
    const payload = Buffer.concat([tag('B'), u64(1n), u64(0n), i32(1)]);
    const x = decodeCopyData(Buffer.concat([tag('w'), u64(10n), u64(20n), u64(T_US), payload]));
    assert.equal(x.kind, 'xlog');
    assert.ok(x.kind === 'xlog' && x.walStart === 10n && x.walEnd === 20n && x.data.equals(payload));
    assert.deepEqual(decodeCopyData(Buffer.concat([tag('k'), u64(0x1946e48n), u64(T_US), u8(1)])), {
      kind: 'keepalive',
      walEnd: 0x1946e48n,
      sendTime: Date.UTC(2025, 10, 18, 10, 0, 0, 123),
      replyRequested: true,
    });
    const now = Date.UTC(2025, 10, 18, 10, 0, 0, 123);
    const r = standbyStatus(0x16b374d878n, now, false);
    assert.equal(r.length, 34);
    assert.equal(r.toString('ascii', 0, 1), 'r');
    for (const at of [1, 9, 17])
      assert.equal(r.readBigUInt64BE(at), 0x16b374d878n, 'written, flushed, applied');
    assert.equal(pgTimeToMs(r.readBigInt64BE(25)), now);
    assert.equal(r[33], 0);
    assert.equal(standbyStatus(1n, now, true)[33], 1);
  });
});

describe('default slot and publication names', () => {
  it('are valid slot names, and distinct captures get distinct ones', () => {
    assert.equal(defaultName('orders'), 'tributary_orders');
    const names = ['Orders', 'orders-cdc', 'orders.cdc', 'x'.repeat(80), `${'x'.repeat(80)}y`, 'café'];
    const made = names.map(defaultName);
    for (const n of made) assert.equal(checkName('slot', n), n);
    assert.equal(new Set(made).size, made.length);
    assert.throws(() => checkName('slot', 'Bad-Name'), /not a valid replication slot name/);
  });
});
