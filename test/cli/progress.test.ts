/**
 * Progress of long commands: `table optimize` and `table vacuum` on a table of 160 small
 * files (80 partitions, two appends), and `models run`, in a real pseudo-terminal of 80
 * columns (one line rewritten in place on stderr) and through a pipe (a plain line at
 * most every 2 s, and the last). The last line's counts are checked against the table's
 * own log (the OPTIMIZE commit's operationMetrics) and the files on disk.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { humanBytes } from '../../src/cli/commands/table/show.ts';
import { cleanup, ROOT, tempDir, tributary } from '../interop/helpers.ts';
import { sourceTable, writeProject } from '../jobs/models/helpers.ts';
import { replay, runInPty, scriptSkip, stripEscapes } from './pty.ts';

const BIN = join(ROOT, 'bin', 'tributary.js');
const COLS = 80;
const PARTITIONS = 80;

/** A table of 2 × PARTITIONS files of a few rows (one per partition per append). */
async function smallFiles(dataDir: string, name: string, dir: string): Promise<void> {
  const file = join(dir, 'rows.ndjson');
  const rows = Array.from({ length: 2 * PARTITIONS }, (_, i) => JSON.stringify({ id: i, p: i % PARTITIONS }));
  writeFileSync(file, `${rows.join('\n')}\n`);
  for (let i = 0; i < 2; i++) {
    const w = await tributary(['table', 'write', name, file, '--partition-by', 'p', '--data-dir', dataDir]);
    assert.equal(w.code, 0, w.stderr);
  }
}

/** Parquet files under a table's folder (its log aside). */
function dataFiles(table: string): string[] {
  return (readdirSync(table, { recursive: true }) as string[]).filter(
    (f) => f.endsWith('.parquet') && !f.startsWith('_delta_log'),
  );
}

/** The OPTIMIZE commit's metrics, from its log file. */
function optimizeMetrics(table: string, version: number): Record<string, string> {
  const text = readFileSync(join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8');
  const info = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
    .find((a) => a.commitInfo)!.commitInfo;
  assert.equal(info.operation, 'OPTIMIZE');
  return info.operationMetrics;
}

describe('progress of long commands', { skip: scriptSkip() }, () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('progress');
  });
  after(() => cleanup(dir));

  test('optimize and vacuum on a terminal: one line rewritten in place, the counts of the log', async () => {
    const dataDir = join(dir, 'tty');
    await smallFiles(dataDir, 't', dir);
    const table = join(dataDir, 'tables', 't');
    assert.equal(dataFiles(table).length, 2 * PARTITIONS);
    const opt = runInPty([process.execPath, BIN, 'table', 'optimize', 't', '--data-dir', dataDir], {
      cols: COLS,
      dir,
    });
    assert.equal(await opt.done, 0, opt.output());
    const raw = opt.output();
    const redraws = raw.split('\r\x1b[2K').slice(1);
    assert.ok(redraws.length >= 2, raw);
    for (const r of redraws) assert.ok([...stripEscapes(r.split('\n')[0])].length < COLS, r);
    const screen = replay(raw, COLS).filter((l) => l !== '');
    // One progress line stays (the last), then the command's own line.
    const m = optimizeMetrics(table, 2);
    assert.deepEqual(screen, [
      `optimize: ${m.numRemovedFiles}/${m.numRemovedFiles} files rewritten (${humanBytes(Number(m.numRemovedBytes))} of ${humanBytes(Number(m.numRemovedBytes))}), ${m.numAddedFiles} written`,
      `compacted ${m.numRemovedFiles} files into ${m.numAddedFiles} at version 2`,
    ]);
    assert.equal(Number(m.numRemovedFiles), 2 * PARTITIONS);
    assert.equal(Number(m.numAddedFiles), PARTITIONS);

    const vac = runInPty(
      [process.execPath, BIN, 'table', 'vacuum', 't', '--retention-hours', '0', '--data-dir', dataDir],
      { cols: COLS, dir },
    );
    assert.equal(await vac.done, 0, vac.output());
    const vscreen = replay(vac.output(), COLS).filter((l) => l !== '');
    // The files the OPTIMIZE removed are gone; those it wrote stay.
    assert.equal(dataFiles(table).length, PARTITIONS);
    assert.ok(
      vscreen.includes(`vacuum: ${2 * PARTITIONS}/${2 * PARTITIONS} files deleted`),
      vscreen.join('\n'),
    );
    assert.equal(vscreen.at(-1), `deleted ${2 * PARTITIONS} files`);
    assert.equal(
      vscreen.filter((l) => l.startsWith('vacuum:')).length,
      1,
      'rewritten in place, not scrolled',
    );
  });

  test('through a pipe: no escape sequences, at most a line every 2 s and the last', async () => {
    const dataDir = join(dir, 'pipe');
    await smallFiles(dataDir, 't', dir);
    const t0 = performance.now();
    const opt = await tributary(['table', 'optimize', 't', '--data-dir', dataDir]);
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(opt.code, 0, opt.stderr);
    assert.doesNotMatch(opt.stderr + opt.stdout, /\x1b/);
    const lines = opt.stderr.trim().split('\n');
    assert.ok(lines.length <= 1 + Math.floor(seconds / 2), opt.stderr);
    assert.match(
      lines.at(-1)!,
      new RegExp(`^optimize: ${2 * PARTITIONS}/${2 * PARTITIONS} files rewritten .*, ${PARTITIONS} written$`),
    );
    const vac = await tributary(['table', 'vacuum', 't', '--retention-hours', '0', '--data-dir', dataDir]);
    assert.equal(vac.code, 0, vac.stderr);
    assert.equal(
      vac.stderr.trim().split('\n').at(-1),
      `vacuum: ${2 * PARTITIONS}/${2 * PARTITIONS} files deleted`,
    );
  });

  test('models run on a terminal: the model running on a line the results replace', async () => {
    const dataDir = join(dir, 'models');
    const project = writeProject(join(dir, 'project'), {
      'models/totals.sql': `SELECT kind, sum(v) AS total FROM source('raw') GROUP BY kind`,
      'models/top.sql': `SELECT * FROM ref('totals') ORDER BY total DESC LIMIT 1`,
    });
    await sourceTable(dataDir, 'raw', { kind: 'string', v: 'long' }, [
      { kind: 'a', v: 1 },
      { kind: 'b', v: 5 },
    ]);
    const run = runInPty(
      [process.execPath, BIN, 'models', 'run', '--project', project, '--data-dir', dataDir],
      { cols: COLS, dir },
    );
    assert.equal(await run.done, 0, run.output());
    const raw = run.output();
    assert.match(raw, /\r\x1b\[2Kmodels: 0\/2 done, running totals \(0 s\)/);
    assert.match(raw, /\r\x1b\[2Kmodels: 1\/2 done, running top \(0 s\)/);
    const screen = replay(raw, COLS).filter((l) => l !== '');
    assert.ok(!screen.some((l) => l.startsWith('models:')), screen.join('\n'));
    assert.ok(
      screen.some((l) => /^totals\s/.test(l)) && screen.some((l) => /^top\s/.test(l)),
      screen.join('\n'),
    );
    const piped = await tributary(['models', 'run', '--project', project, '--data-dir', dataDir]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stdout + piped.stderr, /\x1b|models: \d+\/\d+ done/);
  });
});
