/**
 * A pipeline whose only sink is PostgreSQL (the embedded PGlite): rows upserted by key,
 * the contract's rejects in the DLQ with their bytes, and the DLQ's progress kept in the
 * database's progress table with the sink's rows — so a second run over more records
 * neither re-sends the first run's rejects nor re-writes its rows, and a run with nothing
 * new writes nothing. Compared with plain code over the produced records.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { PostgresPool } from '../../src/connectors/postgres/client.ts';
import { EmbeddedPostgres } from '../../src/connectors/postgres/embedded.ts';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { readTopic } from '../scenarios/orders-oracle.ts';

const DEFINITION = `
name: balances
source: { topic: payments, partitions: 2 }
contract:
  name: payments.v1
  fields:
    - { name: account, type: string, pattern: 'acc-[0-9]+' }
    - { name: amount, type: number, decimals: 2 }
    - { name: seq, type: integer }
transforms:
  - name: latest
    sql: SELECT account, arg_max(amount, seq)::DECIMAL(12,2) AS amount, max(seq) AS seq FROM input GROUP BY account
sinks:
  - name: balances
    type: postgres
    from: latest
    table: bank.balances
    key: [account]
    updated_at: changed_at
`;

test('a PostgreSQL-only pipeline: rows by key, rejects in the DLQ once, its progress in the database', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-pg-only-'));
  const log = new EmbeddedLog({ dir: join(dir, 'log') });
  const db = await EmbeddedPostgres.start({ dir: join(dir, 'postgres'), port: 0 });
  const pool = new PostgresPool(db.url, { max: 1 });
  const sent: Array<{ partition: number; value: string; valid: boolean }> = [];
  let seq = 0;
  const produce = async (n: number) => {
    await log.ensureTopic('payments', { partitions: 2 });
    const records = [];
    for (let i = 0; i < n; i++) {
      seq++;
      const account = `acc-${seq % 7}`;
      const bad = seq % 11 === 0;
      const value = bad
        ? `{"account":"${account}","amount":"oops","seq":${seq}}`
        : `{"account":"${account}","amount":${(seq * 1.25).toFixed(2)},"seq":${seq}}`;
      const partition = seq % 7 < 4 ? 0 : 1;
      sent.push({ partition, value, valid: !bad });
      records.push({ topic: 'payments', partition, key: null, value: Buffer.from(value), headers: {} });
    }
    await log.produce(records);
  };
  const runOnce = async () => {
    const c = await compilePipeline(fromYaml(DEFINITION, 'balances.yaml'), {
      dataDir: dir,
      log,
      postgres: pool,
    });
    try {
      await c.pipeline.run({ untilCaughtUp: true });
      return c.pipeline.metrics;
    } finally {
      await c.pipeline.close();
    }
  };
  const client = new pg.Client({ connectionString: db.url });
  try {
    await produce(300);
    await runOnce();
    await produce(200);
    const second = await runOnce();
    assert.equal(second.recordsIn, 200, 'the second run reads only the new records');
    const third = await runOnce();
    assert.equal(third.recordsIn, 0, 'nothing new: nothing read');

    // Plain code: per account, the amount of its valid record with the highest seq.
    const want = new Map<string, { amount: string; seq: number }>();
    for (const r of sent) {
      if (!r.valid) continue;
      const v = JSON.parse(r.value);
      const cur = want.get(v.account);
      if (!cur || v.seq > cur.seq) want.set(v.account, { amount: v.amount.toFixed(2), seq: v.seq });
    }
    await client.connect();
    const { rows } = await client.query<{
      account: string;
      amount: string;
      seq: string;
      changed_at: Date | null;
    }>('SELECT account, amount::text AS amount, seq, changed_at FROM bank.balances ORDER BY account');
    assert.deepEqual(
      rows.map((r) => [r.account, r.amount, Number(r.seq)]),
      [...want].sort(([a], [b]) => (a < b ? -1 : 1)).map(([a, v]) => [a, v.amount, v.seq]),
    );
    assert.ok(
      rows.every((r) => r.changed_at instanceof Date),
      'updated_at is set',
    );
    const dlq = (await readTopic(log, 'payments.dlq')).map((r) => decodeDeadLetter(r.value));
    const bad = sent.filter((r) => !r.valid).map((r) => r.value);
    assert.deepEqual(
      dlq.map((d) => Buffer.from(originalBytes(d)!).toString('utf8')).sort(),
      [...bad].sort(),
      'each rejected record once in the DLQ, byte for byte, across the three runs',
    );
    const marks = await client.query<{ app_id: string }>(
      "SELECT app_id FROM tributary.progress WHERE app_id LIKE 'balances/dlq/%' ORDER BY app_id",
    );
    assert.deepEqual(
      marks.rows.map((r) => r.app_id),
      ['balances/dlq/payments/0', 'balances/dlq/payments/1'],
      "the DLQ's progress is kept in the database's progress table",
    );
  } finally {
    await client.end().catch(() => {});
    await pool.end();
    await db.stop();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
