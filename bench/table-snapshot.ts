/**
 * Snapshot load time of a table with 10,000 commits (one add each, with stats), on a
 * LocalStore: without checkpoints (every commit file is read) and with a checkpoint
 * every 10 versions (one checkpoint + a few commits are read). Also the cost of
 * refreshing a cached snapshot and of a commit on such a table.
 *
 *   node bench/table-snapshot.ts [commits]
 *
 * Prints the figures and writes bench/results/table-snapshot.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalStore } from '../src/storage/local.ts';
import { writeCheckpoint } from '../src/table/checkpoint.ts';
import { DeltaTable } from '../src/table/table.ts';

const COMMITS = Number(process.argv[2] ?? 10_000);
const RUNS = 5;

const pad = (v: number) => String(v).padStart(20, '0');
const schema = {
  type: 'struct' as const,
  fields: [
    { name: 'id', type: 'long' as const, nullable: true, metadata: {} },
    { name: 'day', type: 'string' as const, nullable: true, metadata: {} },
  ],
};

/** Writes versions 1..n by hand (fast); each adds one file, every 7th also removes one. */
async function writeLog(dir: string, n: number): Promise<void> {
  const log = join(dir, '_delta_log');
  await mkdir(log, { recursive: true });
  const t0 = 1_700_000_000_000;
  for (let v = 1; v <= n; v++) {
    const day = `2026-01-${String((v % 28) + 1).padStart(2, '0')}`;
    const lines = [
      {
        commitInfo: {
          timestamp: t0 + v,
          operation: 'WRITE',
          operationParameters: {},
          readVersion: v - 1,
          isBlindAppend: true,
        },
      },
      {
        add: {
          path: `day=${day}/part-${v}.parquet`,
          partitionValues: { day },
          size: 1000 + v,
          modificationTime: t0 + v,
          dataChange: true,
          stats: JSON.stringify({
            numRecords: 100,
            minValues: { id: v * 100 },
            maxValues: { id: v * 100 + 99 },
            nullCount: { id: 0 },
          }),
        },
      },
      { txn: { appId: `p${v % 4}`, version: v, lastUpdated: t0 + v } },
    ];
    if (v % 7 === 0) {
      const r = v - 3;
      const rday = `2026-01-${String((r % 28) + 1).padStart(2, '0')}`;
      lines.push({
        remove: { path: `day=${rday}/part-${r}.parquet`, deletionTimestamp: t0 + v, dataChange: true },
      } as never);
    }
    await writeFile(join(log, `${pad(v)}.json`), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  }
}

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

async function median(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await time(fn)).ms);
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-snapshot-'));
try {
  const store = new LocalStore(dir);
  await DeltaTable.create(store, { schema, partitionColumns: ['day'] });
  const build = await time(() => writeLog(dir, COMMITS));
  console.log(`wrote ${COMMITS} commits by hand in ${build.ms.toFixed(0)} ms`);

  const noCheckpoint = await median(async () => (await DeltaTable.open(store)).snapshot(), 3);
  const latest = await (await DeltaTable.open(store)).snapshot();
  console.log(`no checkpoint: load latest (${latest.files().length} files) ${noCheckpoint.toFixed(0)} ms`);

  // Checkpoints every 10 versions: the newest one is what a reader uses; write it plus a
  // few older ones so the log looks like a real one.
  const lastCp = Math.floor(COMMITS / 10) * 10;
  for (const v of [lastCp - 20, lastCp - 10, lastCp]) {
    const snap = await (await DeltaTable.open(store)).snapshot({ version: v });
    await writeCheckpoint(store, snap.state, 0);
  }
  const cpWrite = await time(async () =>
    writeCheckpoint(store, (await (await DeltaTable.open(store)).snapshot({ version: lastCp })).state, 0),
  );
  const withCheckpoint = await median(async () => (await DeltaTable.open(store)).snapshot());
  console.log(
    `checkpoint at ${lastCp}: load latest ${withCheckpoint.toFixed(1)} ms (checkpoint write incl. replay ${cpWrite.ms.toFixed(0)} ms)`,
  );

  const table = await DeltaTable.open(store);
  const travel = await median(() => table.snapshot({ version: Math.floor(COMMITS / 2) }), 3);
  console.log(
    `time travel to version ${Math.floor(COMMITS / 2)} (no checkpoint at or before it but the newest ones): ${travel.toFixed(0)} ms`,
  );

  const commitMs: number[] = [];
  const refreshMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const snap = await table.snapshot();
    commitMs.push(
      (
        await time(() =>
          table.commit(
            [
              {
                add: {
                  path: `extra/${i}.parquet`,
                  partitionValues: { day: 'x' },
                  size: 1,
                  modificationTime: 1,
                  dataChange: true,
                },
              },
            ],
            {
              readSnapshot: snap,
              operation: 'WRITE',
            },
          ),
        )
      ).ms,
    );
    refreshMs.push((await time(() => table.snapshot())).ms);
  }
  commitMs.sort((a, b) => a - b);
  refreshMs.sort((a, b) => a - b);
  console.log(
    `append commit on the ${COMMITS}-commit table: median ${commitMs[10].toFixed(1)} ms, max ${commitMs[19].toFixed(1)} ms (includes a checkpoint every 10th)`,
  );
  console.log(`refresh of a cached latest snapshot: median ${refreshMs[10].toFixed(2)} ms`);

  const results = {
    commits: COMMITS,
    activeFiles: latest.files().length,
    loadLatestNoCheckpointMs: Math.round(noCheckpoint),
    loadLatestWithCheckpointMs: Number(withCheckpoint.toFixed(1)),
    checkpointWriteMs: Math.round(cpWrite.ms),
    timeTravelMiddleMs: Math.round(travel),
    appendCommitMedianMs: Number(commitMs[10].toFixed(1)),
    refreshCachedSnapshotMedianMs: Number(refreshMs[10].toFixed(2)),
    node: process.version,
    date: new Date().toISOString(),
  };
  await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
  await writeFile(
    join(import.meta.dirname, 'results', 'table-snapshot.json'),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  console.log(JSON.stringify(results));
} finally {
  await rm(dir, { recursive: true, force: true });
}
