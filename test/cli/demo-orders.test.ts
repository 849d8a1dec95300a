/**
 * `tributary demo orders` (the README's main job) as a user runs it, on the embedded
 * defaults: what it prints when it ends — this run's counts and the tables' contents —
 * equals a plain-code reading of the topic it generated (test/scenarios/orders-oracle.ts),
 * and every command it prints after "try:" runs through a shell exactly as printed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import { runPrintedCommands, startCli } from '../helpers/cli-child.ts';
import { expectedFrom, readTopic } from '../scenarios/orders-oracle.ts';

test('tributary demo orders: the closing counts equal the topic read in plain code; the printed commands run', {
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-demo-orders-'));
  try {
    const data = join(dir, 'data');
    const { exit } = startCli(
      ['demo', 'orders', '--events', '20000', '--seed', '5', '--no-serve', '--data-dir', data],
      { TRIBUTARY_DATA_DIR: '', TRIBUTARY_KAFKA: '', npm_command: '' },
    );
    const done = await exit;
    assert.equal(done.code, 0, done.stderr);
    const out = done.stdout;

    const log = await openLog({ dataDir: data });
    let expected: ReturnType<typeof expectedFrom>;
    let dlq: Array<{ rule: string }>;
    try {
      expected = expectedFrom(await readTopic(log, 'orders'));
      dlq = (await readTopic(log, 'orders.dlq')).map((r) => decodeDeadLetter(r.value));
    } finally {
      await log.close();
    }
    assert.equal(dlq.length, expected.rejects.size, 'the DLQ topic holds each invalid record once');
    assert.ok(
      expected.rejects.size > 0 && expected.duplicates > 0,
      'the generator sent invalid and repeated events',
    );
    const run =
      /this run: (\d+) events generated, (\d+) committed to orders_events, (\d+) to the DLQ .*, (\d+) duplicates dropped/.exec(
        out,
      );
    assert.ok(run, out);
    assert.deepEqual(run.slice(1).map(Number), [
      20_000,
      expected.events.size,
      expected.rejects.size,
      expected.duplicates,
    ]);
    const now = /tables now: orders_events (\d+) events \(version \d+\), orders_current (\d+) orders/.exec(
      out,
    );
    assert.ok(now, out);
    assert.deepEqual(now.slice(1).map(Number), [expected.events.size, expected.current.size]);

    // Every command printed after "try:" runs as printed, and shows rows.
    const outputs = runPrintedCommands(out, dir, 4);
    // The DLQ by reason adds up to the invalid records, per rule as the DLQ topic says.
    const byRule = new Map<string, number>();
    for (const d of dlq) byRule.set(d.rule, (byRule.get(d.rule) ?? 0) + 1);
    const printed = new Map<string, number>();
    for (const line of outputs[3].split('\n')) {
      const m = /^\s*(\S+)\s*\|[^|]*\|\s*(\d+)\s*$/.exec(line);
      if (m) printed.set(m[1], (printed.get(m[1]) ?? 0) + Number(m[2]));
    }
    assert.deepEqual(printed, byRule, outputs[3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
