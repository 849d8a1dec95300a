/**
 * Our log against an independent reader and writer: delta-rs (the `deltalake` Python
 * package in .venv, created by scripts/provision/python.sh). Data files are real Parquet
 * written by DuckDB so delta-rs can read rows, not just the log.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ManualClock } from '../../src/core/clock.ts';
import type { LocalStore } from '../../src/storage/local.ts';
import type { Add } from '../../src/table/actions.ts';
import { connect } from '../../src/table/duckdb.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { tempStore } from './core-helpers.ts';

const run = promisify(execFile);
const python = process.env.TRIBUTARY_TEST_PYTHON ?? join(import.meta.dirname, '../../.venv/bin/python');
const skip = existsSync(python)
  ? false
  : `no Python with deltalake at ${python} (run scripts/provision/python.sh)`;

// biome-ignore lint/suspicious/noExplicitAny: whatever JSON the Python side prints
async function py(script: string): Promise<any> {
  // os._exit: the deltalake runtime can abort during interpreter shutdown.
  const { stdout } = await run(python, ['-c', `import json, os\n${script}\nos._exit(0)`], {
    timeout: 120_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** Writes ids [from, to) as a Parquet file under day=<day>/ and returns its add action. */
async function parquetAdd(store: LocalStore, day: string, from: number, to: number): Promise<Add> {
  const dirName = `day=${day}`;
  const path = `${dirName}/part-${from}-${to}.parquet`;
  await mkdir(join(store.root, dirName), { recursive: true });
  const conn = await connect();
  try {
    await conn.run(
      `COPY (SELECT range::BIGINT AS id FROM range(${from}, ${to})) TO '${join(store.root, path)}' (FORMAT parquet)`,
    );
  } finally {
    conn.closeSync();
  }
  const st = await stat(join(store.root, path));
  const stats = JSON.stringify({
    numRecords: to - from,
    minValues: { id: from },
    maxValues: { id: to - 1 },
    nullCount: { id: 0 },
  });
  return {
    path,
    partitionValues: { day },
    size: st.size,
    modificationTime: Math.floor(st.mtimeMs),
    dataChange: true,
    stats,
  };
}

describe('interoperability with delta-rs', { skip }, () => {
  test('delta-rs reads a table we created, committed to and checkpointed, at every version', async () => {
    const { store, dir, cleanup } = await tempStore();
    try {
      const table = await DeltaTable.create(store, {
        schema: {
          type: 'struct',
          fields: [
            { name: 'id', type: 'long', nullable: true, metadata: {} },
            { name: 'day', type: 'string', nullable: true, metadata: {} },
          ],
        },
        partitionColumns: ['day'],
        configuration: { 'delta.checkpointInterval': '3' },
      });
      const adds = [
        await parquetAdd(store, 'd1', 0, 10),
        await parquetAdd(store, 'd2', 10, 20),
        await parquetAdd(store, 'd1', 20, 30),
      ];
      for (const [i, a] of adds.entries()) {
        await table.commit([{ add: a }, { txn: { appId: 'app', version: i } }], {
          readSnapshot: await table.snapshot(),
          operation: 'WRITE',
        });
      }
      // v4: delete the first file (copy-on-write DELETE of ids 0..9)
      await table.commit(
        [
          {
            remove: {
              path: adds[0].path,
              deletionTimestamp: Date.now(),
              dataChange: true,
              partitionValues: { day: 'd1' },
              size: adds[0].size,
              extendedFileMetadata: true,
            },
          },
        ],
        {
          readSnapshot: await table.snapshot(),
          operation: 'DELETE',
          readScope: 'all',
        },
      );
      const out = await py(`
from deltalake import DeltaTable
t = DeltaTable(${JSON.stringify(dir)})
rows = t.to_pyarrow_table().to_pylist()
v2 = DeltaTable(${JSON.stringify(dir)}, version=2).to_pyarrow_table().num_rows
v3 = DeltaTable(${JSON.stringify(dir)}, version=3).to_pyarrow_table().num_rows
p = t.protocol()
print(json.dumps({"version": t.version(), "ids": sorted(r["id"] for r in rows), "days": sorted(set(r["day"] for r in rows)), "v2": v2, "v3": v3, "reader": p.min_reader_version, "writer": p.min_writer_version, "ops": [h["operation"] for h in t.history()]}))`);
      assert.equal(out.version, 4);
      assert.deepEqual(
        out.ids,
        Array.from({ length: 20 }, (_, i) => i + 10),
      );
      assert.deepEqual(out.days, ['d1', 'd2']);
      assert.equal(out.v2, 20);
      assert.equal(out.v3, 30); // read from our checkpoint at version 3
      assert.deepEqual([out.reader, out.writer], [1, 2]);
      assert.deepEqual(out.ops, ['DELETE', 'WRITE', 'WRITE', 'WRITE', 'CREATE TABLE']);

      // Two months later: log clean-up behind the checkpoint at 3, VACUUM of the deleted file.
      const later = await DeltaTable.open(store, { clock: new ManualClock(Date.now() + 60 * 86_400_000) });
      const cleaned = await later.cleanupLog();
      assert.deepEqual(
        cleaned.deleted,
        ['00', '01', '02'].map((v) => `_delta_log/000000000000000000${v}.json`),
      );
      assert.deepEqual((await later.vacuum()).deleted, [adds[0].path]);
      const after = await py(`
from deltalake import DeltaTable
t = DeltaTable(${JSON.stringify(dir)})
print(json.dumps({"version": t.version(), "rows": t.to_pyarrow_table().num_rows, "history": [h["version"] for h in t.history()]}))`);
      assert.deepEqual(after, { version: 4, rows: 20, history: [4, 3] });
    } finally {
      await cleanup();
    }
  });

  test('we read (and append to) a table delta-rs wrote, including its checkpoint and escaped partition paths', async () => {
    const { store, dir, cleanup } = await tempStore();
    try {
      const written = await py(`
import pyarrow as pa
from deltalake import write_deltalake, DeltaTable
for i in range(4):
    write_deltalake(${JSON.stringify(dir)}, pa.table({"id": pa.array(range(i * 10, i * 10 + 10), pa.int64()), "day": ["d%d" % (i % 2)] * 10}), partition_by=["day"], mode="append")
DeltaTable(${JSON.stringify(dir)}).delete("id < 5")
DeltaTable(${JSON.stringify(dir)}).create_checkpoint()
write_deltalake(${JSON.stringify(dir)}, pa.table({"id": pa.array([100], pa.int64()), "day": ["a:b"]}), partition_by=["day"], mode="append")
t = DeltaTable(${JSON.stringify(dir)})
print(json.dumps({"version": t.version(), "files": sorted(t.file_uris())}))`);
      const table = await DeltaTable.open(store);
      const snap = await table.snapshot();
      assert.equal(snap.version, written.version);
      const ours = snap
        .files()
        .map((f) => join(dir, decodeURIComponent(f.path)))
        .sort();
      assert.deepEqual(ours, written.files.map((u: string) => u.replace(/^file:\/\//, '')).sort());
      assert.ok(
        snap.files().some((f) => f.partitionValues.day === 'a:b' && f.path.startsWith('day=a%253Ab/')),
      );
      assert.deepEqual(snap.partitionColumns, ['day']);
      const a = await parquetAdd(store, 'd9', 200, 205);
      await table.commit([{ add: a }], { readSnapshot: snap, operation: 'WRITE' });
      const after = await py(`
from deltalake import DeltaTable
t = DeltaTable(${JSON.stringify(dir)})
print(json.dumps({"version": t.version(), "rows": t.to_pyarrow_table().num_rows}))`);
      assert.deepEqual(after, { version: written.version + 1, rows: 35 + 1 + 5 });
    } finally {
      await cleanup();
    }
  });
});
