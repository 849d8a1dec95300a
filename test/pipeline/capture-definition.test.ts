/**
 * `source.capture` in a definition, and the seed's configuration file as a definition:
 * - the shape: keys checked (a misspelt one named with its neighbour), a table name
 *   starting with a digit accepted, a password written into the URL refused with the
 *   file, line and column; `${NAME}` resolved when the capture starts, percent-encoded
 *   in the user and password, a missing variable named;
 * - configs/orders_stream.yml becomes the cdc pipeline with its settings (database,
 *   table, poll interval, batch limit, topic, partitions, paths, Kafka brokers); a
 *   literal password in it is refused; a wrong one is never printed;
 * - contracts: `not_empty`, and `__` field names (a change's metadata) beside the
 *   runtime's reserved `_` names;
 * - --source or --capture for a definition without a capture, and a mode not built in,
 *   are clear errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { builtinDefinitionSync } from '../../src/pipeline/builtin.ts';
import { resolveCapture } from '../../src/pipeline/capture.ts';
import { fromYaml, loadDefinitionFile } from '../../src/pipeline/load.ts';
import { plan } from '../../src/pipeline/plan.ts';
import { compileContract } from '../../src/quality/contract.ts';
import { runQuery } from '../../src/query/run.ts';
import { runCli } from '../connectors/postgres/cli.ts';
import { withLog } from '../stream/with-log.ts';
import { runUntilCaughtUp } from './run-definition.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tributary-capture-def-'));
  dirs.push(d);
  return d;
};

const BASE = `name: t
source:
  topic: raw
  capture:
    table: 2025em1100102_orders
CAPTURE
contract:
  name: c
  fields:
    - { name: order_id, type: integer }
sinks:
  - { name: s, type: delta_append, from: input, table: t }
`;
const yaml = (capture: string) => BASE.replace('CAPTURE\n', capture);

function invalid(text: string): string {
  try {
    const loaded = fromYaml(text, 'p.yaml');
    const p = plan(loaded.definition);
    if (p.problems.length > 0) throw new Error(p.problems.map((x) => x.message).join('; '));
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('accepted');
}

describe('source.capture', () => {
  it('checks its keys and values', () => {
    assert.match(
      invalid(yaml('    cursr: updated_at\n')),
      /p\.yaml:6:5: source\.capture\.cursr: unknown key 'cursr' \(did you mean 'cursor'\?\)/,
    );
    assert.match(invalid(yaml('    mode: wal\n')), /expected one of polling, logical/);
    assert.match(invalid(yaml('    poll_interval: soon\n')), /source\.capture\.poll_interval/);
    assert.match(invalid(yaml('    batch_limit: 0\n')), /whole number ≥ 1/);
    const p = plan(fromYaml(yaml('    cursor: updated_at\n'), 'p.yaml').definition);
    assert.deepEqual(p.problems, []);
  });

  it('refuses a password written into the definition; takes references to environment variables', () => {
    assert.match(
      invalid(yaml('    postgres: postgres://app:hunter2@db:5432/shop\n')),
      /the URL holds a password: put it in an environment variable/,
    );
    const text = yaml(`    postgres: postgres://app:\${SHOP_PW}@db:5432/shop\n    delay: 2s\n`);
    const def = fromYaml(text, 'p.yaml').definition;
    assert.deepEqual(plan(def).problems, []);
    const r = resolveCapture(def, { dataDir: '/d', topic: 'raw', env: { SHOP_PW: 'p@ss/w#rd' } });
    assert.equal(r.url, 'postgres://app:p%40ss%2Fw%23rd@db:5432/shop');
    assert.equal(new URL(r.url!).password, 'p%40ss%2Fw%23rd');
    assert.equal(r.options.delayMs, 2000);
    assert.equal(r.options.stateDir, join('/d', 'capture', 't'));
    assert.deepEqual(r.table, { schema: 'public', name: '2025em1100102_orders' });
    assert.throws(
      () => resolveCapture(def, { dataDir: '/d', topic: 'raw', env: {} }),
      /refers to the environment variable SHOP_PW, which is not set/,
    );
    // --source and --capture win over the definition.
    const o = resolveCapture(def, {
      dataDir: '/d',
      topic: 'raw',
      source: 'postgres://x@h/db',
      mode: 'logical',
      env: {},
    });
    assert.equal(o.url, 'postgres://x@h/db');
    assert.equal(o.mode, 'logical');
  });

  it('--source for a definition without a capture is refused', async () => {
    const r = await runCli([
      'run',
      'orders',
      '--source',
      'postgres://x@127.0.0.1:1/db',
      '--data-dir',
      tempDir(),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--source and --capture apply to a definition with source\.capture/);
  });

  it('--capture logical without a server says PGlite cannot decode', async () => {
    const r = await runCli(['run', 'cdc', '--capture', 'logical', '--data-dir', tempDir()]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /logical replication needs a PostgreSQL server/);
  });
});

describe("the seed's configuration file", () => {
  it('becomes the cdc pipeline with its settings', async () => {
    const loaded = await loadDefinitionFile(
      join(import.meta.dirname, '..', '..', 'configs', 'orders_stream.yml'),
    );
    const def = loaded.definition;
    const cdc = builtinDefinitionSync('cdc').definition;
    assert.equal(def.name, 'cdc');
    assert.deepEqual(def.contract, cdc.contract);
    assert.deepEqual(def.sinks, cdc.sinks);
    assert.ok('topic' in def.source);
    assert.equal(def.source.topic, '2025em1100102_food_orders_raw');
    assert.equal(def.source.partitions, 3);
    assert.deepEqual(def.source.capture, {
      ...(cdc.source as { capture: object }).capture,
      postgres: `postgres://student:\${POSTGRES_PASSWORD}@localhost:5432/food_delivery_db`,
      table: '2025em1100102_orders',
      cursor: 'created_at',
      poll_interval: '5s',
      batch_limit: 1000,
      state_dir: '/datalake/food/2025em1100102/lastprocess/orders',
    });
    assert.deepEqual(
      def.tables?.map((t) => [t.name, t.path]),
      [
        ['orders', '/datalake/food/2025em1100102/output/orders'],
        ['orders_failed', '/datalake/food/2025em1100102/output/orders_failed'],
        ['orders_current', '/datalake/food/2025em1100102/output/orders_current'],
      ],
    );
    assert.equal(loaded.kafka, 'localhost:9092');
    assert.match(loaded.notes!.join('\n'), /checkpoint_location is not needed/);
    assert.deepEqual(plan(def).problems, []);
  });

  it('refuses a literal password and unknown keys, pointing into the file', () => {
    const text =
      'postgres:\n  database: d\n  table: t\n  password: student123\nkafka:\n  topic: x\n  bootstrap: k:9092\n';
    assert.throws(
      () => fromYaml(text, 'orders_stream.yml'),
      (err: Error) =>
        /orders_stream\.yml:4:13: postgres\.password: the password is written into the file/.test(
          err.message,
        ) &&
        /orders_stream\.yml:7:3: kafka\.bootstrap: unknown key 'bootstrap'/.test(err.message) &&
        !err.message.includes('student123'),
    );
  });

  it('never prints the password, even when the server refuses it', async () => {
    const dir = tempDir();
    const file = join(dir, 'orders_stream.yml');
    writeFileSync(
      file,
      `postgres:\n  host: 127.0.0.1\n  port: 1\n  database: d\n  user: u\n  password: \${PW}\n  table: t\nkafka:\n  topic: x\n`,
    );
    const r = await runCli(['run', file, '--data-dir', join(dir, 'data')], { PW: 'Zebra-Secret-42' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /POSTGRES_UNAVAILABLE/);
    assert.match(r.stderr, /postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/d/);
    assert.doesNotMatch(r.stderr + r.stdout, /Zebra-Secret-42/);
  });
});

describe('contracts for change events', () => {
  it('not_empty tags empty and blank strings FAILED with its reason; __ names are fields', async () => {
    await withLog('not-empty', async (log, dir) => {
      await log.createTopic('t', { partitions: 1 });
      const values = [
        '{"customer_name":"Alice Smith","__op":"c"}',
        '{"customer_name":"","__op":"c"}',
        '{"customer_name":"   ","__op":"u"}',
        '{"customer_name":null,"__op":"c"}',
      ];
      await log.produce(values.map((v) => ({ topic: 't', partition: 0, value: Buffer.from(v) })));
      await runUntilCaughtUp(
        `name: ne
source: { topic: t, partitions: 1 }
contract:
  name: c
  on_failure: tag
  fields:
    - { name: customer_name, type: string, not_empty: true }
    - { name: __op, type: string, enum: [c, u, d, r] }
transforms:
  - { name: out, sql: 'SELECT _o, customer_name, __op, validation_status, validation_reason FROM input' }
sinks:
  - { name: s, type: delta_append, from: out, table: out }
`,
        { dataDir: dir, log },
      );
      const { rows } = await runQuery('SELECT * FROM out ORDER BY _o', { dataDir: dir });
      assert.deepEqual(
        rows.map((r) => [r.customer_name, r.__op, r.validation_status, r.validation_reason]),
        [
          ['Alice Smith', 'c', 'SUCCESS', null],
          ['', 'c', 'FAILED', 'customer_name: field is empty'],
          ['   ', 'u', 'FAILED', 'customer_name: field is empty'],
          [null, 'c', 'FAILED', 'customer_name: field is missing or null'],
        ],
      );
    });
  });

  it("a name starting with one '_' is the runtime's; not_empty is for strings", () => {
    assert.throws(
      () => compileContract({ name: 'c', fields: [{ name: '_op', type: 'string' }] }),
      /starts with '_', which the runtime reserves/,
    );
    assert.throws(
      () => compileContract({ name: 'c', fields: [{ name: 'n', type: 'integer', notEmpty: true }] }),
      /only a string field can have/,
    );
  });
});
