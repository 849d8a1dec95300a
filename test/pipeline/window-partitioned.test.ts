/**
 * Window and dedup state per source partition (`state: per_partition`), in one process on
 * the embedded log: the definition's rules; a straight run equal to the plain-code truth
 * computed partition by partition (each partition's own watermark and dedup); and runs
 * killed at the named points of a windowed batch (and at random moments), each followed
 * by a restart, giving identical tables and DLQ.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { CrashPointName } from '../../src/core/crash-points.ts';
import { openLog } from '../../src/log/open.ts';
import { checkDefinition } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { startCli } from '../helpers/cli-child.ts';
import {
  clicksByPartition,
  expectedOutputs,
  outputLines,
  type Produced,
  partitionedDefinition,
  produceUserClicks,
  userClicks,
} from './partitioned-fixtures.ts';

const DEFINITION = partitionedDefinition();
const POINTS: CrashPointName[] = [
  'dedup.state-saved',
  'window.state-saved',
  'plan.written',
  'sink.append.written',
  'sink.append.committed',
  'merge.written',
  'sink.merge.committed',
  'commit.after-put',
];

const input = (): Produced[] => userClicks(5, 0, 12_000, 3);

async function prepare(dataDir: string): Promise<void> {
  const log = await openLog({ dataDir });
  try {
    await log.ensureTopic('uclicks', { partitions: 3 });
    await produceUserClicks(log, 'uclicks', input());
  } finally {
    await log.close();
  }
}

describe('state per partition: the definition', () => {
  /** The problems `tributary check` reports, one per line (none: the definition is valid). */
  const problems = async (yaml: string): Promise<string> => {
    try {
      await checkDefinition(fromYaml(yaml, 'u.yaml'));
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('is accepted as written', async () => {
    assert.equal(await problems(DEFINITION), '');
  });

  it('needs source.key, a field of the contract', async () => {
    assert.match(
      await problems(DEFINITION.replace(', key: user_id', '')),
      /source: state: per_partition needs 'source.key', the field the topic's records are keyed/,
    );
    assert.match(
      await problems(DEFINITION.replace('key: user_id }', 'key: account }')),
      /source\.key: 'account' is not a field of the contract/,
    );
  });

  it('refuses a window that does not group by the key, a topic sink and the batch relation', async () => {
    assert.match(
      await problems(DEFINITION.replace('group_by: [user_id, page]', 'group_by: [page]')),
      /transforms\[2\]\.group_by: .*window 'per_two_minutes' must group by 'user_id'/,
    );
    assert.match(
      await problems(
        DEFINITION.replace(
          'sinks:\n',
          'sinks:\n  - { name: out, type: topic, from: per_minute, topic: o }\n',
        ),
      ),
      /sinks\[0\]\.type: a topic sink numbers its output by batch plans over all partitions/,
    );
    assert.match(
      await problems(
        DEFINITION.replace('sinks:\n', '  - { name: b, sql: "SELECT batch_id FROM batch" }\nsinks:\n'),
      ),
      /transforms\[3\]\.sql: 'batch' numbers the pipeline's batches/,
    );
  });
});

describe('state per partition: runs', () => {
  it('a straight run equals the truth computed partition by partition', async (t: TestContext) => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-wpart-'));
    try {
      const file = join(dir, 'u.yaml');
      writeFileSync(file, DEFINITION);
      const data = join(dir, 'data');
      await prepare(data);
      const r = await startCli(['run', file, '--until-caught-up', '--data-dir', data]).exit;
      assert.equal(r.code, 0, r.stderr);
      const log = await openLog({ dataDir: data });
      try {
        const want = expectedOutputs(await clicksByPartition(log, 'uclicks'));
        const got = await outputLines(log, data, DEFINITION);
        t.diagnostic(
          `${got.minutes.length} final minutes, ${got.hops.length} hop windows, ${got.late.length} late`,
        );
        assert.ok(want.minutes.length > 500 && want.late.length >= 3);
        assert.deepEqual(got.minutes, want.minutes, 'the final windows per user and minute');
        assert.deepEqual(got.hops, want.hops, 'the hopping windows per user and page');
        assert.deepEqual(
          got.late,
          want.late.map((id) => `${id} late`),
          'each late click in the DLQ once',
        );
      } finally {
        await log.close();
      }
      // The state is kept per partition, in folders of its own.
      for (let p = 0; p < 3; p++) {
        const plans = join(data, 'state', 'user_minutes', 'partitions', String(p), 'plans');
        assert.ok(existsSync(plans), `partition ${p}'s plans are in ${plans}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('killed at every named point of a batch and at random moments, then restarted: identical tables and DLQ', {
    timeout: 600_000,
  }, async (t: TestContext) => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-wpart-crash-'));
    try {
      const file = join(dir, 'u.yaml');
      writeFileSync(file, DEFINITION);
      const straight = join(dir, 'straight');
      const crashed = join(dir, 'crashed');
      await prepare(straight);
      await prepare(crashed);
      const r = await startCli(['run', file, '--until-caught-up', '--data-dir', straight]).exit;
      assert.equal(r.code, 0, r.stderr);
      const trace = join(dir, 'trace.tsv');
      const schedule: Array<{ point: CrashPointName; n: number } | { delayMs: number }> = [
        ...POINTS.flatMap((point) => [2, 5].map((n) => ({ point, n }))),
        { point: 'dlq.produced', n: 1 },
        ...[1700, 2900].map((delayMs) => ({ delayMs })),
      ];
      for (const kill of schedule) {
        const armed = 'point' in kill;
        const run = startCli(
          ['run', file, '--until-caught-up', '--data-dir', crashed],
          armed ? { TRIBUTARY_CRASH_AT: `${kill.point}:${kill.n}`, TRIBUTARY_CRASH_TRACE: trace } : {},
        );
        const timer = armed ? undefined : setTimeout(() => run.child.kill('SIGKILL'), kill.delayMs);
        const exit = await run.exit;
        clearTimeout(timer);
        if (exit.signal === 'SIGKILL') continue;
        assert.equal(exit.code, 0, `a run ended by itself, not with success:\n${exit.stderr}`);
        if (armed) t.diagnostic(`${kill.point}:${kill.n} not reached before the input was drained`);
      }
      const done = await startCli(['run', file, '--until-caught-up', '--data-dir', crashed]).exit;
      assert.equal(done.code, 0, done.stderr);
      const lines = existsSync(trace) ? readFileSync(trace, 'utf8').split('\n').filter(Boolean) : [];
      const crashedAt = new Set(lines.filter((l) => l.endsWith('\tcrash')).map((l) => l.split('\t')[0]));
      t.diagnostic(`killed at: ${[...crashedAt].join(', ')}`);
      for (const p of [...POINTS, 'dlq.produced'])
        assert.ok(crashedAt.has(p), `killed at ${p} at least once`);
      const read = async (data: string) => {
        const log = await openLog({ dataDir: data });
        try {
          return await outputLines(log, data, DEFINITION);
        } finally {
          await log.close();
        }
      };
      const want = await read(straight);
      const got = await read(crashed);
      assert.deepEqual(got.minutes, want.minutes, 'the appended final windows are identical');
      assert.deepEqual(got.hops, want.hops, 'the merged hopping windows are identical');
      assert.deepEqual(got.late, want.late, 'the DLQ holds each late click once');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
