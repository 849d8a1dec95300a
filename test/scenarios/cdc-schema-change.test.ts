/**
 * Schema changes of the captured table while `tributary run cdc` runs (docs/cdc.md,
 * "Schema changes"), polling a real PostgreSQL server and the embedded PGlite:
 * - a column added reaches the topic and the three tables, which gain it as a nullable
 *   column (cdc-schema-scenario.ts), and the same with `--capture logical` (a real
 *   server: the capture learns the column from pgoutput's Relation message);
 * - a column dropped stops the run with CAPTURE_SCHEMA_CHANGED once every change before
 *   it is landed, and running again goes on with the column null in later changes;
 * - a column changed to a type read as another contract type stops it the same way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PostgresPool } from '../../src/connectors/postgres/client.ts';
import { EmbeddedPostgres } from '../../src/connectors/postgres/embedded.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { runQuery } from '../../src/query/run.ts';
import { setupFoodOrders } from '../../src/scenarios/food-orders/schema.ts';
import { freshDatabase, postgresMissing } from '../connectors/postgres/server.ts';
import { assertLakeMatchesSource } from './cdc-oracle.ts';
import { addColumnScenario, sql, startCdc, T, waitFor } from './cdc-schema-scenario.ts';

const noServer = postgresMissing();

describe('a column added to the captured table reaches the lake (polling)', { timeout: 240_000 }, () => {
  test('real PostgreSQL server', { skip: noServer }, async () => {
    const db = await freshDatabase('cdc_schema_add');
    try {
      await addColumnScenario(db.url, 'polling');
    } finally {
      await db.drop();
    }
  });

  test('embedded PGlite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-cdc-schema-pglite-'));
    const embedded = await EmbeddedPostgres.start({ dir: join(dir, 'pg'), port: 0 });
    try {
      await addColumnScenario(embedded.url, 'polling');
    } finally {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The logical capture announces columns through the same hook (CaptureOptions.onColumns).
describe('a column added to the captured table reaches the lake (logical replication)', {
  timeout: 240_000,
}, () => {
  test('real PostgreSQL server', { skip: noServer }, async () => {
    const db = await freshDatabase('cdc_schema_add_logical');
    try {
      await addColumnScenario(db.url, 'logical');
    } finally {
      // The slot keeps the database in use.
      await sql(
        db.url,
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active',
      ).catch(() => {});
      await db.drop();
    }
  });
});

async function count(dataDir: string, sqlText: string): Promise<number> {
  return Number((await runQuery(sqlText, { dataDir })).rows[0].n);
}

describe('a column dropped or retyped stops the capture with CAPTURE_SCHEMA_CHANGED', {
  timeout: 240_000,
}, () => {
  test('dropped: the changes before it are landed; running again goes on, the column null', {
    skip: noServer,
  }, async () => {
    const db = await freshDatabase('cdc_schema_drop');
    const dataDir = mkdtempSync(join(tmpdir(), 'tributary-cdc-schema-drop-'));
    const pool = new PostgresPool(db.url, { max: 1 });
    try {
      await setupFoodOrders(pool);
      await sql(db.url, `ALTER TABLE ${T} ADD COLUMN note text`);
      await sql(db.url, `UPDATE ${T} SET note = 'n' || order_id`);
      let run = await startCdc(db.url, 'polling', dataDir);
      await waitFor('the seed rows with their notes', async () => {
        return (
          (await count(dataDir, "SELECT count(*) AS n FROM food.orders_current WHERE note LIKE 'n%'")) === 10
        );
      });
      await sql(db.url, `UPDATE ${T} SET order_status = 'DELIVERED' WHERE order_id = 4`);
      await waitFor(
        'the change before the drop',
        async () =>
          (await count(
            dataDir,
            "SELECT count(*) AS n FROM food.orders_current WHERE order_id = 4 AND order_status = 'DELIVERED' AND note = 'n4'",
          )) === 1,
        60_000,
        run,
      );
      await sql(db.url, `ALTER TABLE ${T} DROP COLUMN note`);
      await sql(db.url, `UPDATE ${T} SET order_status = 'DELIVERED' WHERE order_id = 5`);
      await assert.rejects(run.done, (err) => {
        assert.ok(isTributaryError(err, 'CAPTURE_SCHEMA_CHANGED'), String(err));
        assert.match(err.message, /column note of public\.2025em1100102_orders was dropped/);
        assert.match(err.message, /run again: later changes hold null in it/);
        return true;
      });
      await run.close();
      // Running again accepts the table as it is now.
      run = await startCdc(db.url, 'polling', dataDir);
      await waitFor(
        'the changes after the drop',
        async () => {
          const { rows } = await runQuery(
            'SELECT order_id::INTEGER AS order_id, order_status, note FROM food.orders_current WHERE order_id IN (4, 5) ORDER BY 1',
            { dataDir },
          );
          return (
            JSON.stringify(rows) ===
            JSON.stringify([
              { order_id: 4, order_status: 'DELIVERED', note: 'n4' },
              { order_id: 5, order_status: 'DELIVERED', note: null },
            ])
          );
        },
        60_000,
        run,
      );
      await run.stop();
      await run.close();
      assert.equal(
        await count(dataDir, "SELECT count(*) AS n FROM food.orders_current WHERE note = 'n1'"),
        1,
        'a row not changed since keeps its last value',
      );
      await assertLakeMatchesSource(db.url, dataDir);
    } finally {
      await pool.end();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('retyped to another contract type', { skip: noServer }, async () => {
    const db = await freshDatabase('cdc_schema_retype');
    const dataDir = mkdtempSync(join(tmpdir(), 'tributary-cdc-schema-retype-'));
    const pool = new PostgresPool(db.url, { max: 1 });
    try {
      await setupFoodOrders(pool);
      await sql(db.url, `ALTER TABLE ${T} ADD COLUMN rating integer`);
      await sql(db.url, `UPDATE ${T} SET rating = 4`);
      const run = await startCdc(db.url, 'polling', dataDir);
      await waitFor('the ratings', async () => {
        return (
          (await count(dataDir, 'SELECT count(*) AS n FROM food.orders_current WHERE rating = 4')) === 10
        );
      });
      await sql(db.url, `ALTER TABLE ${T} ALTER COLUMN rating TYPE text`);
      await sql(db.url, `UPDATE ${T} SET rating = 'good' WHERE order_id = 1`);
      await assert.rejects(run.done, (err) => {
        assert.ok(isTributaryError(err, 'CAPTURE_SCHEMA_CHANGED'), String(err));
        assert.match(
          err.message,
          /column rating of .* changed type from integer to text, whose values the pipeline reads as string instead of integer/,
        );
        return true;
      });
      await run.close();
      assert.equal(
        await count(dataDir, 'SELECT count(*) AS n FROM food.orders_current WHERE rating = 4'),
        10,
        'nothing of the new type was landed',
      );
    } finally {
      await pool.end();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
