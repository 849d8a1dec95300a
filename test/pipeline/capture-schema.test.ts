/**
 * A capture reading every column of its table (capture-schema.ts), without a database:
 * - each PostgreSQL type becomes the contract type its values arrive as in a flat change
 *   (change.ts), optional; names a contract cannot have, or that clash with the change's
 *   metadata or the tag columns, are left out with the reason;
 * - pipelines/cdc.yaml completed from the food-orders table with a `tip` column; a
 *   required field that is no column is a problem at its line; an optional one is not;
 * - tables evolve by default beside such a capture, `schema: strict` keeps one strict,
 *   `columns: contract` and plain topic pipelines keep them strict;
 * - the hook: the same columns compile nothing, a new column compiles the definition
 *   with it once, a dropped column and a column of another contract type are
 *   CAPTURE_SCHEMA_CHANGED (judged against the previous change, not the catalog).
 * The pipeline itself, with a real capture, is test/scenarios/cdc-schema-change.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeColumn } from '../../src/connectors/postgres/capture/change.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { builtinDefinitionSync } from '../../src/pipeline/builtin.ts';
import { CaptureSchema, capturedField, withTableColumns } from '../../src/pipeline/capture-schema.ts';
import type { PipelineDefinition } from '../../src/pipeline/definition.ts';
import { fromObject, fromYaml, type LoadedDefinition } from '../../src/pipeline/load.ts';
import { applySet } from '../../src/pipeline/overrides.ts';
import { plan } from '../../src/pipeline/plan.ts';
import type { Pipeline } from '../../src/stream/pipeline.ts';

const TABLE = { schema: 'public', name: '2025em1100102_orders' };
const col = (name: string, typeOid: number): ChangeColumn => ({ name, typeOid });
const ORDERS = [
  col('order_id', 23),
  col('customer_name', 1043),
  col('restaurant_name', 1043),
  col('item', 1043),
  col('amount', 1700),
  col('order_status', 1043),
  col('created_at', 1184),
  col('updated_at', 1184),
];

describe('captured columns as contract fields', () => {
  it('types each column by what its values are in a flat change, optional', () => {
    const f = (typeOid: number) => capturedField(col('c', typeOid));
    assert.deepEqual(f(16), { name: 'c', type: 'boolean', required: false });
    assert.deepEqual(f(20), { name: 'c', type: 'integer', required: false });
    assert.deepEqual(f(1700), { name: 'c', type: 'number', required: false });
    assert.deepEqual(f(701), { name: 'c', type: 'number', required: false, coerce: true });
    assert.deepEqual(f(1114), { name: 'c', type: 'timestamp', required: false });
    assert.deepEqual(f(1184), { name: 'c', type: 'timestamp', required: false });
    assert.deepEqual(f(3802), { name: 'c', type: 'string', required: false, coerce: true });
    // uuid, date, interval, arrays...: their text.
    for (const oid of [2950, 1082, 1186, 1007])
      assert.deepEqual(f(oid), { name: 'c', type: 'string', required: false });
  });

  it('leaves out names a contract cannot have or that clash, with the reason', () => {
    const skip = (name: string, reserved?: Set<string>) => {
      const r = capturedField(col(name, 25), reserved);
      assert.ok('skip' in r, name);
      return r.skip;
    };
    assert.match(skip('Tip Amount'), /not one a contract field can have/);
    assert.match(skip('_hidden'), /not starting with a single _/);
    assert.match(skip('__op'), /metadata/);
    assert.match(skip('validation_status', new Set(['validation_status'])), /status or reason/);
  });

  it('completes pipelines/cdc.yaml from the table; a required field that is no column is a problem', () => {
    const def = builtinDefinitionSync('cdc').definition;
    const done = withTableColumns(def, TABLE, [...ORDERS, col('tip', 1700), col('Bad Name', 25)]);
    assert.deepEqual(done.problems, []);
    assert.deepEqual(done.added, [{ name: 'tip', type: 'number', required: false }]);
    assert.deepEqual(
      done.skipped.map((s) => s.name),
      ['Bad Name'],
    );
    assert.equal(done.definition.contract!.fields.at(-1)!.name, 'tip');
    // The seed's table has no updated_at (an optional field): fine. No item (required): a problem.
    const seeds = withTableColumns(
      def,
      TABLE,
      ORDERS.filter((c) => c.name !== 'updated_at'),
    );
    assert.deepEqual(seeds.problems, []);
    const noItem = withTableColumns(
      def,
      TABLE,
      ORDERS.filter((c) => c.name !== 'item'),
    );
    assert.deepEqual(
      noItem.problems.map((p) => p.path),
      [['contract', 'fields', 3, 'name']],
    );
    assert.match(
      noItem.problems[0].message,
      /'item' is not a column of the captured table public\.2025em1100102_orders/,
    );
  });
});

describe('tables beside a capture', () => {
  const evolves = (def: PipelineDefinition) =>
    Object.fromEntries([...plan(def).tables].map(([name, t]) => [name, t.evolve]));

  it('evolve by default beside a capture reading all columns; strict when told, or otherwise', () => {
    const cdc = builtinDefinitionSync('cdc').definition;
    assert.deepEqual(evolves(cdc), { orders: true, orders_failed: true, orders_current: true });
    assert.deepEqual(evolves(applySet(cdc, 'tables.orders.schema=strict')), {
      orders: false,
      orders_failed: true,
      orders_current: true,
    });
    assert.deepEqual(evolves(applySet(cdc, 'source.capture.columns=contract')), {
      orders: false,
      orders_failed: false,
      orders_current: false,
    });
    assert.deepEqual(evolves(applySet(cdc, 'source.capture.format=envelope')).orders, false);
    const plain = fromYaml(
      `name: p
source: { topic: t }
contract: { name: c, fields: [{ name: id, type: integer }] }
sinks: [{ name: s, type: delta_append, from: input, table: a }, { name: s2, type: delta_append, from: input, table: b }]
tables: [{ name: b, schema: evolve }]
`,
      'p.yaml',
    ).definition;
    assert.deepEqual(evolves(plain), { a: false, b: true });
    assert.throws(
      () =>
        fromYaml(
          'name: p\nsource: { topic: t }\ncontract: { name: c, fields: [] }\nsinks: []\ntables: [{ name: b, schema: loose }]\n',
          'p.yaml',
        ),
      /p\.yaml:5:.*schema.*expected one of strict, evolve/,
    );
  });
});

describe('following the columns while running', () => {
  /** A CaptureSchema whose "pipelines" only record the definitions compiled. */
  async function follower(columns: ChangeColumn[]) {
    const compiled: PipelineDefinition[] = [];
    const compile = async (l: LoadedDefinition) => {
      compiled.push(l.definition);
      return { close: async () => {} } as unknown as Pipeline;
    };
    const lines: string[] = [];
    const schema = new CaptureSchema({
      loaded: fromObject(builtinDefinitionSync('cdc').definition),
      table: TABLE,
      describe: async () => columns,
      compile,
      report: (l) => lines.push(l),
    });
    await schema.start();
    return { schema, compiled, lines };
  }
  const fieldNames = (d: PipelineDefinition) =>
    d.contract!.fields.map((f) => f.name).filter((n) => !n.startsWith('__'));

  it('a new column compiles the definition with it, once; the same columns compile nothing', async () => {
    const { schema, compiled, lines } = await follower(ORDERS);
    assert.equal(compiled.length, 1);
    await schema.onColumns(ORDERS);
    await schema.onColumns(ORDERS);
    assert.equal(compiled.length, 1);
    const withTip = [...ORDERS, col('tip', 1700)];
    await schema.onColumns(withTip);
    await schema.onColumns(withTip);
    assert.equal(compiled.length, 2);
    assert.deepEqual(fieldNames(compiled[1]), [...ORDERS.map((c) => c.name), 'tip']);
    assert.match(lines.join('\n'), /column tip \(number\) added to public\.2025em1100102_orders/);
  });

  it('a column dropped, or read as another contract type, is CAPTURE_SCHEMA_CHANGED', async () => {
    const start = [...ORDERS, col('tip', 1700)];
    const { schema } = await follower(start);
    // The first change is judged against nothing: a replay may carry older columns than the catalog.
    await schema.onColumns(ORDERS);
    await schema.onColumns(start);
    await assert.rejects(schema.onColumns(ORDERS), (err) => {
      assert.ok(isTributaryError(err, 'CAPTURE_SCHEMA_CHANGED'));
      assert.match(err.message, /column tip of public\.2025em1100102_orders was dropped \(or renamed\)/);
      assert.doesNotMatch(err.message, /remove the field/);
      return true;
    });
    await assert.rejects(
      schema.onColumns(start.map((c) => (c.name === 'item' ? col('item', 23) : c))),
      /column item .* changed type from varchar to integer, whose values the pipeline reads as integer instead of string/,
    );
    // numeric(10,2) -> numeric(12,4), varchar(100) -> text: read the same.
    await schema.onColumns(start.map((c) => (c.name === 'item' ? col('item', 25) : c)));
    await assert.rejects(
      schema.onColumns(start.filter((c) => c.name !== 'customer_name')),
      /remove the field 'customer_name' from contract\.fields and run again/,
    );
  });
});
