/**
 * The sink contract (sink-contract.ts) for the Delta sinks: append (with and without
 * dedup by id) and MERGE (every batch, and buffering batches for a commit interval under
 * a manual clock). Each runs over a fresh table on a LocalStore, wrapped in a FaultyStore
 * for the storage-failure rounds; what a table durably holds is read back through a new
 * DeltaTable over the same directory (no faults): its rows (readRows), its progress
 * (a new sink's `open`, from the table's txn actions) and the markers (txnVersion).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.ts';
import { type FaultKind, type FaultRule, FaultyStore } from '../../src/storage/faulty.ts';
import { LocalStore } from '../../src/storage/local.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { DeltaAppendSink } from '../../src/stream/sinks/delta-append.ts';
import { DeltaMergeSink } from '../../src/stream/sinks/delta-merge.ts';
import type { Sink } from '../../src/stream/types.ts';
import { DeltaTable, readRows, type StructField } from '../../src/table/index.ts';
import {
  type ContractRecord,
  type Row,
  type SinkFactory,
  type StorageFault,
  sinkContract,
} from './sink-contract.ts';

const noSleep = async () => {};
const field = (name: string, type: StructField['type']): StructField => ({
  name,
  type,
  nullable: true,
  metadata: {},
});

/** Delta's timestamp as readRows gives it (whole seconds, UTC). */
const tsText = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}+00`;

/** Faults on every kind of call; commits (few, and what matters most) meet them more often. */
function rules(kind: StorageFault): FaultRule[] {
  const one = (fault: FaultKind, scale: number): FaultRule[] => {
    if (fault === 'stale-list') return [{ fault, calls: ['list'], probability: 0.3 * scale, hide: 2 }];
    const out: FaultRule[] = [
      { fault, calls: ['putIfAbsent'], path: /_delta_log\//, probability: 0.5 * scale },
      { fault, calls: ['put', 'putIfAbsent', 'delete'], probability: 0.3 * scale },
    ];
    if (fault !== 'hang') out.push({ fault, calls: ['get', 'list', 'head'], probability: 0.15 * scale });
    return out.map((r) => ({ ...r, name: `${fault}-${r.calls!.join('+')}`, landAfterCalls: 2 }));
  };
  // Whatever the draws, the second data file written fails: every round has a failed write.
  const scripted: FaultRule = {
    name: 'scripted',
    fault: kind === 'mixed' ? 'error-after' : kind,
    calls: ['put'],
    path: /\.parquet$/,
    nth: [2],
    landAfterCalls: 2,
  };
  if (kind !== 'mixed') return [scripted, ...one(kind, 1)];
  return [
    scripted,
    ...(['error-before', 'error-after', 'hang', 'stale-list'] as const).flatMap((k) => one(k, 0.5)),
  ];
}

type Variant = 'append' | 'append-dedup' | 'merge' | 'merge-buffered';

const APPEND_SCHEMA = [
  field('src_p', 'integer'),
  field('src_o', 'long'),
  field('id', 'string'),
  field('k', 'integer'),
  field('amount', 'decimal(10,2)'),
  field('ts', 'timestamp'),
  field('note', 'string'),
];

const appendRow = (r: ContractRecord): Row => ({
  src_p: r._p,
  src_o: String(r._o),
  id: r.id,
  k: r.k,
  amount: r.amount,
  ts: tsText(r.ts),
  note: r.note,
});

function deltaFactory(variant: Variant): SinkFactory {
  const merging = variant === 'merge' || variant === 'merge-buffered';
  return {
    async open(opts = {}) {
      const dir = mkdtempSync(join(tmpdir(), `tributary-sink-contract-${variant}-`));
      const local = new LocalStore(dir, { durable: false });
      const faulty = opts.faults
        ? new FaultyStore(local, { rules: rules(opts.faults.kind), seed: opts.faults.seed, sleep: noSleep })
        : undefined;
      if (faulty) faulty.enabled = false;
      const clock = new ManualClock(Date.UTC(2026, 0, 27, 12, 0, 0));
      const openTable = (store: ObjectStore) =>
        DeltaTable.open(store, {
          clock,
          outcomeCheck: { attempts: 1, sleep: noSleep },
          createIfMissing: { schema: { type: 'struct', fields: APPEND_SCHEMA }, name: `contract_${variant}` },
        });
      const make = (table: DeltaTable): Sink => {
        const common = { name: `contract_${variant}`, appIdPrefix: `contract/${variant}/topic`, table };
        if (!merging) {
          return new DeltaAppendSink({
            ...common,
            select: (from) => `SELECT _p AS src_p, _o AS src_o, id, k, amount, ts, note FROM ${from}`,
            ...(variant === 'append-dedup' && {
              dedup: { key: 'id', batchTime: 'epoch(ts)::BIGINT', tableTime: 'ts', horizonSeconds: 86_400 },
            }),
          });
        }
        return new DeltaMergeSink({
          ...common,
          // One row per key: the newest by (ts, id).
          select: (from) =>
            `SELECT * EXCLUDE (__r) FROM (SELECT _p AS src_p, _o AS src_o, id, k, amount, ts, note, row_number() OVER (PARTITION BY k ORDER BY ts DESC, id DESC) AS __r FROM ${from}) WHERE __r = 1`,
          on: ['k'],
          whenMatched: {
            update: 'source.ts > target.ts OR (source.ts = target.ts AND source.id > target.id)',
          },
          newestBy: ['ts', 'id'],
          commitIntervalMs: variant === 'merge-buffered' ? 1_000 : 0,
          clock,
        });
      };
      const sink = make(await openTable(faulty ?? local));
      return {
        sink,
        fresh: async () => make(await openTable(local)),
        rows: async () => {
          const table = await openTable(local);
          return readRows(table, await table.snapshot());
        },
        marker: async (appId) => (await (await openTable(local)).snapshot()).txnVersion(appId),
        ...(faulty && {
          faults: {
            on: () => {
              faulty.enabled = true;
            },
            off: async () => {
              faulty.enabled = false;
              await faulty.settle();
            },
            fired: () => faulty.fired.length,
          },
        }),
        // Batches 400 ms apart: the buffering MERGE commits every third batch or so.
        ...(variant === 'merge-buffered' && { tick: () => clock.advance(400) }),
        dispose: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
    expected(records) {
      if (variant === 'append') return records.map(appendRow);
      if (variant === 'append-dedup') {
        const seen = new Set<string>();
        return records.filter((r) => !seen.has(r.id) && seen.add(r.id)).map(appendRow);
      }
      const newest = new Map<number, ContractRecord>();
      for (const r of records) {
        const cur = newest.get(r.k);
        if (!cur || r.ts > cur.ts || (r.ts === cur.ts && r.id > cur.id)) newest.set(r.k, r);
      }
      return [...newest.values()].map(appendRow);
    },
  };
}

sinkContract('DeltaAppendSink', deltaFactory('append'));
sinkContract('DeltaAppendSink with dedup', deltaFactory('append-dedup'));
sinkContract('DeltaMergeSink', deltaFactory('merge'));
sinkContract('DeltaMergeSink buffering (commit interval, manual clock)', deltaFactory('merge-buffered'));
