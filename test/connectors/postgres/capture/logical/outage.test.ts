/**
 * PostgreSQL going away under a running logical capture, on a cluster of its own (fsync
 * on, so a kill loses nothing committed): SIGKILLed, and later stopped cleanly, while a
 * workload writes (and retries while the server is down). The capture waits, reconnects
 * to its slot and goes on; afterwards the topic holds every committed transaction once
 * in commit order and replays to the table.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLogicalCapture } from '../../../../../src/connectors/postgres/capture/logical/index.ts';
import { type Cluster, freshDatabase, postgresMissing, startCluster } from '../../server.ts';
import { assertSameRows, harness, ORDERS_DDL, readChanges, removeDirs, sql, tableRows } from './helpers.ts';
import { assertExactlyOnce, OrdersWorkload, replayStrict } from './workload.ts';

const skip = postgresMissing({ binaries: true });
const dirs: string[] = [];
let cluster: Cluster | undefined;
after(async () => {
  removeDirs(dirs);
  await cluster?.dispose();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('logical capture through a PostgreSQL outage', { skip }, () => {
  it('reconnects to its slot after the server is killed and after it is stopped, losing nothing', async () => {
    cluster = await startCluster({ settings: { fsync: 'on' } });
    const db = await freshDatabase('logical_outage', cluster);
    await sql(db.url, ORDERS_DDL);
    const workload = new OrdersWorkload(db.url, 3);
    await workload.seed(500);
    const h = await harness(db.url, 'orders', dirs);
    const lines: string[] = [];
    h.options.report = (l) => lines.push(l);
    const stop = new AbortController();
    const capture = createLogicalCapture(h.options);
    const running = capture.run({ signal: stop.signal });
    workload.start(100, true);
    await sleep(1500);
    await cluster.kill();
    await sleep(1000);
    await cluster.start();
    await sleep(2000);
    await cluster.stop('fast');
    await sleep(500);
    await cluster.start();
    const atRestart = capture.metrics.published;
    // The workload goes on until the capture has published again (its reconnect backs off:
    // on a loaded machine that takes longer than on a quiet one), or a minute has passed.
    const deadline = Date.now() + 60_000;
    await sleep(500);
    while (capture.metrics.published === atRestart && Date.now() < deadline) await sleep(100);
    await sleep(500);
    await workload.stop();
    const published = capture.metrics.published;
    stop.abort();
    await running;
    await capture.close();
    assert.ok(
      lines.some((l) => /unavailable .*reconnecting/.test(l)),
      `the capture said it waits for the server: ${lines.join(' | ')}`,
    );
    assert.ok(
      published > atRestart,
      `it published changes after the last restart (${atRestart} → ${published})`,
    );
    await h.catchUp();
    const changes = await readChanges(h.log);
    assertExactlyOnce(changes, workload);
    assertSameRows(
      replayStrict(changes),
      await tableRows(db.url, 'orders', 'order_id'),
      'the mirror equals the table',
    );
    await h.close();
  });
});
