import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInterval, tableConfig } from '../../src/table/config.ts';
import { checkReadable, checkWritable } from '../../src/table/protocol.ts';
import type { StructType } from '../../src/table/schema.ts';
import { columnInvariants } from '../../src/table/schema-json.ts';

describe('table properties', () => {
  test('interval strings as Delta writes them', () => {
    assert.equal(parseInterval('interval 7 days'), 7 * 86_400_000);
    assert.equal(parseInterval('interval 1 week'), 7 * 86_400_000);
    assert.equal(parseInterval('30 days'), 30 * 86_400_000);
    assert.equal(parseInterval('INTERVAL 1 day 2 hours'), 26 * 3_600_000);
    assert.equal(parseInterval('interval 500 milliseconds'), 500);
    assert.throws(() => parseInterval('7'));
    assert.throws(() => parseInterval('interval 2 months'));
    assert.throws(() => parseInterval('interval x days'));
  });

  test('defaults and overrides', () => {
    const c = tableConfig({
      'delta.checkpointInterval': '3',
      'delta.deletedFileRetentionDuration': 'interval 1 hour',
      'delta.appendOnly': 'true',
    });
    assert.equal(c.checkpointInterval, 3);
    assert.equal(c.deletedFileRetentionMs, 3_600_000);
    assert.equal(c.logRetentionMs, 30 * 86_400_000);
    assert.equal(c.appendOnly, true);
    assert.throws(() => tableConfig({ 'delta.appendOnly': 'yes' }));
  });
});

describe('protocol checks', () => {
  test('reads reader 1, refuses higher reader versions and unknown reader features', () => {
    checkReadable({ minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['columnMapping'] }, 't');
    assert.throws(() => checkReadable({ minReaderVersion: 2, minWriterVersion: 5 }, 't'), /reader version 2/);
    assert.throws(
      () =>
        checkReadable({ minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'] }, 't'),
      /deletionVectors/,
    );
  });

  test('writes writer 2, refuses higher writer versions and unknown writer features', () => {
    checkWritable({ minReaderVersion: 1, minWriterVersion: 2 }, 't');
    checkWritable(
      { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['appendOnly', 'invariants'] },
      't',
    );
    assert.throws(() => checkWritable({ minReaderVersion: 1, minWriterVersion: 4 }, 't'), /writer version 4/);
    assert.throws(
      () =>
        checkWritable(
          { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['appendOnly', 'changeDataFeed'] },
          't',
        ),
      /changeDataFeed/,
    );
  });
});

describe('lenient reading and column invariants', () => {
  test('a table with an unparseable property written by another engine stays readable', () => {
    const c = tableConfig(
      { 'delta.checkpointInterval': 'often', 'delta.logRetentionDuration': 'interval 2 days' },
      { lenient: true },
    );
    assert.equal(c.checkpointInterval, 10);
    assert.equal(c.logRetentionMs, 2 * 86_400_000);
    assert.equal(c.raw['delta.checkpointInterval'], 'often');
    assert.throws(() => tableConfig({ 'delta.checkpointInterval': 'often' }), /positive integer/);
  });

  test('columnInvariants lists delta.invariants expressions, nested ones by dotted path', () => {
    const inv = (e: string) => ({ 'delta.invariants': JSON.stringify({ expression: { expression: e } }) });
    const schema: StructType = {
      type: 'struct',
      fields: [
        { name: 'x', type: 'integer', nullable: true, metadata: inv('x > 3') },
        {
          name: 's',
          type: {
            type: 'struct',
            fields: [{ name: 'y', type: 'string', nullable: true, metadata: inv('s.y IS NOT NULL') }],
          },
          nullable: true,
          metadata: {},
        },
        { name: 'z', type: 'long', nullable: true, metadata: {} },
      ],
    };
    assert.deepEqual(columnInvariants(schema), [
      { column: 'x', expression: 'x > 3' },
      { column: 's.y', expression: 's.y IS NOT NULL' },
    ]);
    const broken: StructType = {
      type: 'struct',
      fields: [{ name: 'x', type: 'integer', nullable: true, metadata: { 'delta.invariants': 'x > 3' } }],
    };
    assert.throws(() => columnInvariants(broken), /delta\.invariants/);
  });
});
