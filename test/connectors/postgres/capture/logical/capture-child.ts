/**
 * A logical capture in a process of its own, for tests that kill it (crash.test.ts):
 *
 *   node capture-child.ts URL TABLE DATA_DIR run|catch-up
 *
 * `run` captures until SIGTERM; `catch-up` until every change present at its start is
 * published, then exits 0. Progress lines go to stdout; a failure's code and message to
 * stderr (exit 1). TRIBUTARY_CRASH_AT arms a crash point (src/core/crash-points.ts).
 */
import { join } from 'node:path';
import { createLogicalCapture } from '../../../../../src/connectors/postgres/capture/logical/index.ts';
import { parseTableName } from '../../../../../src/connectors/postgres/tables.ts';
import { openLog } from '../../../../../src/log/open.ts';

const [url, table, dataDir, mode] = process.argv.slice(2);
const log = await openLog({ dataDir });
const capture = createLogicalCapture({
  // Slots are the server's: one name per test database.
  name: new URL(url).pathname.slice(1),
  url,
  table: parseTableName(table),
  log,
  topic: 'orders.changes',
  partitions: 3,
  format: 'flat',
  stateDir: join(dataDir, 'capture', 'orders'),
  report: (line) => process.stdout.write(`${line}\n`),
  // Small batches: many publishes, so the crash points are reached often.
  maxBatchEvents: 50,
  slotWaitMs: 30_000,
});
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
try {
  await capture.run({ signal: stop.signal, untilCaughtUp: mode === 'catch-up' });
  await capture.close();
  await log.close();
  process.stdout.write(`done: ${capture.metrics.published} published\n`);
} catch (err) {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`${e.code ?? 'ERROR'}: ${e.message ?? String(err)}\n`);
  process.exit(1);
}
