/**
 * A table sink's dedup (src/stream/dedup.ts) for records older than its horizon: their
 * ids are looked up in the table's files. The same batch must keep the same rows whether
 * the ids come from that lookup (horizon 10 minutes) or from memory (a horizon holding
 * every id of the table), and the rows kept must be those a plain model keeps: every
 * record whose id the table does not hold, the first copy (by offset) within the batch.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LocalStore } from '../../src/storage/local.ts';
import { DedupState } from '../../src/stream/dedup.ts';
import { append, openConnection } from '../../src/table/index.ts';
import { DeltaTable } from '../../src/table/table.ts';

const dir = mkdtempSync(join(tmpdir(), 'dedup-lookup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 4, 4, 9) / 1000;
const FILES = 20;
const ROWS = 200;

/** A name as an id: itself, or for `UUID` keys a UUID made from it (distinct names, distinct UUIDs). */
function idFor(keyType: string | undefined): (name: string) => string {
  if (keyType === undefined) return (name) => name;
  const ids = new Map<string, string>();
  return (name) => {
    let id = ids.get(name);
    if (id === undefined) {
      id = `00000000-0000-4000-8000-${(ids.size + 1).toString(16).padStart(12, '0')}`;
      ids.set(name, id);
    }
    return id;
  };
}

for (const keyType of [undefined, 'UUID']) {
  test(`ids older than the horizon are found in the table exactly as ids held in memory (${keyType ?? 'VARCHAR'} keys)`, () =>
    lookupMatchesMemory(keyType));
}

async function lookupMatchesMemory(keyType: string | undefined): Promise<void> {
  const id = idFor(keyType);
  const conn = await openConnection();
  try {
    const table = await DeltaTable.open(new LocalStore(join(dir, `silver-${keyType ?? 'varchar'}`)), {
      createIfMissing: {
        schema: {
          type: 'struct',
          fields: [
            { name: 'event_id', type: 'string', nullable: true, metadata: {} },
            { name: 'event_time', type: 'timestamp', nullable: true, metadata: {} },
          ],
        },
      },
    });
    // One file per batch, 20 s apart; every 10th row 30 s to 15 minutes behind its batch.
    const inTable = new Map<string, number>();
    for (let f = 0; f < FILES; f++) {
      const rows: Array<[string, number]> = [];
      for (let i = 0; i < ROWS; i++) {
        const t = T0 + f * 20 - (i % 10 === 0 ? 30 + ((i * 37 + f * 11) % 870) : (i % 7) / 10);
        rows.push([id(`f${f}-${i}`), t]);
        inTable.set(id(`f${f}-${i}`), t);
      }
      const values = rows.map(([id, t]) => `('${id}', to_timestamp(${t}))`).join(', ');
      await append(table, { sql: `SELECT * FROM (VALUES ${values}) v(event_id, event_time)`, conn });
    }
    const snapshot = await table.snapshot();
    const now = T0 + FILES * 20;
    // The batch: new records now, copies and new ids far older than a 10-minute horizon,
    // a copy of a recent row, and ids repeated within the batch.
    const batch: Array<[string, number]> = [];
    for (let i = 0; i < 30; i++) batch.push([id(`new-${i}`), now - (i % 3)]);
    const old = [...inTable].filter(([, t]) => t < now - 700).slice(0, 12);
    assert.ok(old.length === 12, 'the table holds rows older than the horizon');
    for (const [id, t] of old) batch.push([id, t]);
    for (let i = 0; i < 8; i++) batch.push([id(`old-new-${i}`), now - 720 - i]);
    batch.push([id('f19-3'), inTable.get(id('f19-3'))!]);
    batch.push([id('new-1'), now - 1], [id('old-new-2'), now - 722], [old[0][0], old[0][1]]);
    const values = batch.map(([id, t], o) => `(0, ${o}, '${id}', to_timestamp(${t}))`).join(', ');
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM (VALUES ${values}) v(_p, _o, event_id, event_time)`,
    );

    const kept = async (horizonSeconds: number, name: string) => {
      const state = new DedupState(
        {
          key: 'event_id',
          ...(keyType !== undefined && { keyType }),
          batchTime: 'epoch(event_time)::BIGINT',
          tableTime: 'event_time',
          horizonSeconds,
        },
        name,
      );
      await state.load(conn, table, snapshot);
      const dropped = await state.filter(conn, table, snapshot, 'batch', `kept_${name}`);
      const rows = (await conn.runAndReadAll(`SELECT _o FROM kept_${name} ORDER BY _o`)).getRows();
      return { dropped, offsets: rows.map((r) => Number(r[0])) };
    };
    const lookedUp = await kept(600, 'lookup');
    const inMemory = await kept(1_000_000, 'memory');

    const seen = new Set(inTable.keys());
    const model: number[] = [];
    batch.forEach(([id], o) => {
      if (seen.has(id)) return;
      seen.add(id);
      model.push(o);
    });
    assert.deepEqual(inMemory.offsets, model, 'ids held in memory: the plain model');
    assert.deepEqual(lookedUp.offsets, model, 'ids looked up in the table: the same rows');
    assert.equal(lookedUp.dropped, batch.length - model.length);
  } finally {
    conn.closeSync();
  }
}
