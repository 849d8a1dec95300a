/**
 * Definitions of Avro topics checked before anything runs: the reader schema's fields
 * type the contract, and every mismatch is reported at its line.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkDefinition } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';

const SCHEMA = JSON.stringify({
  type: 'record',
  name: 'sale',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
});

const definition = (extra: string, schema = SCHEMA) => `name: sales
source: { topic: sales }
format: avro
avro:
  schema: '${schema}'
${extra}
sinks:
  - { name: out, type: delta_append, from: input, table: t }
`;

async function problems(text: string): Promise<string> {
  try {
    await checkDefinition(fromYaml(text, 'sales.yaml'));
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('format avro definitions', () => {
  test('the schema types the input; the contract adds rules', async () => {
    const { plan, checked } = await checkDefinition(
      fromYaml(
        definition('contract:\n  name: sales\n  fields:\n    - { name: amount, min: 0 }'),
        'sales.yaml',
      ),
    );
    const input = checked.relations.get('input')!;
    assert.deepEqual(
      input.names.map((n, i) => `${n} ${input.types[i]}`),
      [
        '_o BIGINT',
        '_p INTEGER',
        '_t BIGINT',
        'id VARCHAR',
        'amount DECIMAL(10,2)',
        'at TIMESTAMP WITH TIME ZONE',
        'note VARCHAR',
      ],
    );
    assert.deepEqual(plan.contract!.fields[1], {
      name: 'amount',
      type: 'number',
      required: true,
      decimals: 2,
      precision: 10,
      min: 0,
    });
    assert.equal(plan.contract!.fields[3].required, false);
  });

  test('a contract is optional: the schema is the contract', async () => {
    const { plan } = await checkDefinition(fromYaml(definition(''), 'sales.yaml'));
    assert.equal(plan.contract!.name, 'sale');
  });

  test('mismatches are reported at their lines', async () => {
    const m = await problems(
      definition(
        'contract:\n  name: sales\n  fields:\n    - { name: amount, type: integer }\n    - { name: missing, min: 1 }\n    - { name: id, coerce: true }',
      ),
    );
    assert.match(
      m,
      /sales\.yaml:9:29: contract\.fields\[0\]\.type: field 'amount' is bytes decimal in the Avro schema, contract type 'number', not 'integer'/,
    );
    assert.match(
      m,
      /sales\.yaml:10:15: contract\.fields\[1\]\.name: field 'missing' is not in the Avro reader schema/,
    );
    assert.match(m, /contract\.fields\[2\]\.coerce: 'coerce' applies to JSON records/);
  });

  test('unsupported shapes are refused, naming the field', async () => {
    const nested = JSON.stringify({
      type: 'record',
      name: 'sale',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'customer', type: { type: 'record', name: 'c', fields: [{ name: 'x', type: 'int' }] } },
        { name: 'tags', type: { type: 'array', items: 'string' } },
      ],
    });
    const m = await problems(definition('', nested));
    assert.match(m, /avro\.schema: field 'customer' is record: nested records are not supported/);
    assert.match(m, /avro\.schema: field 'tags' is array: arrays are not supported/);
  });

  test('keys that do not go together', async () => {
    assert.match(
      await problems(
        'name: x\nsource: { topic: t }\nformat: avro\nsinks:\n  - { name: o, type: delta_append, from: input, table: t }\n',
      ),
      /format avro needs the reader schema/,
    );
    assert.match(
      await problems(
        'name: x\nsource: { topic: t }\navro: { schema: a.avsc }\ncontract: { name: c, fields: [{ name: a, type: string }] }\nsinks:\n  - { name: o, type: delta_append, from: input, table: t }\n',
      ),
      /'avro' gives the reader schema of format avro/,
    );
    assert.match(
      await problems(
        'name: x\nsource: { topic: t }\ncontract: { name: c, fields: [{ name: a }] }\nsinks:\n  - { name: o, type: delta_append, from: input, table: t }\n',
      ),
      /contract\.fields\[0\]: missing required key 'type' \(only format avro takes types from its schema\)/,
    );
    assert.match(
      await problems(
        'name: x\nsource: { topic: t }\nformat: avro\navro: { subject: t-value }\nsinks:\n  - { name: o, type: delta_append, from: input, table: t }\n',
      ),
      /the reader schema is subject 't-value' of the schema registry: give the registry/,
    );
  });
});
