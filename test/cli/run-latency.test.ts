/**
 * `tributary run` reports, for each sink, the latency from ingest (the record's log time)
 * and from event time to the sink's commit: in its progress lines (stderr, every
 * --progress-ms) and in its final summary.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { startCli } from '../helpers/cli-child.ts';
import { SalesInput, SOURCE, salesDefinition } from '../pipeline/quality-oracle.ts';

describe('tributary run: latency per sink', () => {
  it('prints p50/p99 from ingest and from event time for each sink, while running and at the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-run-latency-'));
    try {
      const file = join(dir, 'sales.yaml');
      writeFileSync(file, salesDefinition({ name: 'sales_r', quality: { topic: 'dq', samples: 1 } }));
      const dataDir = join(dir, 'data');
      const log = await openLog({ dataDir });
      await log.ensureTopic(SOURCE, { partitions: 3 });
      const input = new SalesInput(3);
      await log.produce(input.next(300, false));
      await log.produce(input.next(1500, true));
      await log.close();
      const run = await startCli([
        'run',
        file,
        '--data-dir',
        dataDir,
        '--until-caught-up',
        '--progress-ms',
        '50',
      ]).exit;
      assert.equal(run.code, 0, run.stderr);
      const sink = (name: string) =>
        new RegExp(
          `${name} \\+(\\d+) rows \\(latency p50/p99 from ingest (\\d+)/(\\d+) ms, from event time (\\d+)/(\\d+) ms\\)`,
        );
      const summary = run.stdout.split('\n').find((l) => l.startsWith('sales_r: '));
      assert.ok(summary, run.stdout);
      assert.match(summary, /^sales_r: \d+ batches, 1800 records in, \d+ to the DLQ, /);
      for (const name of ['bronze', 'gold', 'quality']) {
        const m = sink(name).exec(summary);
        assert.ok(m, `${name} in the summary: ${summary}`);
        // The events are months older than their log time: event-time latency is the larger.
        assert.ok(Number(m[4]) > Number(m[2]), `${name}: from event time ${m[4]} > from ingest ${m[2]}`);
      }
      const lines = run.stderr.split('\n').filter((l) => l.startsWith('sales_r: '));
      assert.ok(lines.length > 0, `progress lines on stderr:\n${run.stderr}`);
      assert.match(lines.at(-1)!, /^sales_r: \d+ batches, \d+ records in, \d+ to the DLQ, lag \d+; /);
      assert.match(lines.at(-1)!, sink('bronze'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
