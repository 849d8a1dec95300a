/**
 * The store's rule for concurrent writers, at the seams: which records of the topic are
 * applied (state.ts), a writer that loses a race decides again against the state that
 * won (store.ts), and topics the registry cannot trust are refused at start.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTributaryError } from '../../../src/core/errors.ts';
import type { Log } from '../../../src/log/log.ts';
import { openLog } from '../../../src/log/open.ts';
import { openRegistry } from '../../../src/server/registry/server.ts';
import { RegistryState, type StoreRecord } from '../../../src/server/registry/state.ts';
import { tempDir } from './helpers.ts';

const rec = (i: number) =>
  JSON.stringify({ type: 'record', name: 'r', fields: [{ name: `f${i}`, type: 'int', default: 0 }] });

function register(subject: string, version: number, id: number, i: number, basis: number): StoreRecord {
  return {
    v: 1,
    basis,
    writer: 'w',
    op: 'register',
    subject,
    version,
    id,
    schema: rec(i),
    canonical: rec(i),
  };
}

const freshLog = (): Promise<Log> => openLog({ dataDir: tempDir('store') });

describe('registry store', () => {
  test('a record is applied only on the state its writer saw, and never gives a used id to another schema', () => {
    const s = new RegistryState();
    assert.equal(s.apply(0, register('a', 1, 1, 1, 0)), true);
    // Decided on the empty state too (basis 0): valid on its own (a fresh id, version 1), but
    // the record at offset 0 was applied since, so its writer decided on a state gone by.
    assert.equal(s.apply(1, register('b', 1, 2, 2, 0)), false);
    // Decided after reading offset 1: applies, with the next id.
    assert.equal(s.apply(2, register('b', 1, 2, 2, 2)), true);
    // A fresh basis but an id already given to another schema, or a version not the next one.
    assert.equal(s.apply(3, register('c', 1, 1, 3, 3)), false);
    assert.equal(s.apply(4, register('a', 3, 3, 3, 4)), false);
    // The same schema under another subject keeps its id.
    assert.equal(s.apply(5, register('c', 1, 2, 2, 5)), true);
    assert.deepEqual([...s.schemas.keys()], [1, 2]);
    assert.deepEqual(s.versions('c', false), [{ version: 1, id: 2, deleted: false }]);
    assert.equal(s.readCount, 6);
  });

  test('a writer that loses a race decides again: a new id and version, or a 409 against what won', async () => {
    const dataDir = tempDir('race');
    const logA = await openLog({ dataDir });
    const logB = await openLog({ dataDir });
    const b = await openRegistry({ log: logB });
    const base = { type: 'record', name: 'e', fields: [{ name: 'id', type: 'string' }] };
    const withN = (...t: string[]) =>
      JSON.stringify({
        ...base,
        fields: [...base.fields, { name: 'n', type: ['null', ...t], default: null }],
      });
    let letIn: (() => Promise<unknown>) | undefined;
    const a = await openRegistry({
      log: logA,
      beforeAppend: async () => {
        const other = letIn;
        letIn = undefined;
        await other?.();
      },
    });
    try {
      // A decides {id: 1, version: 1}; B registers another schema first.
      letIn = () => b.client.register('s', JSON.stringify(base));
      const idA = await a.client.register('s', withN('long'));
      assert.equal(await b.service.store.catchUp(), undefined);
      assert.equal(idA, 2);
      assert.equal(a.service.store.lostRaces, 1);
      assert.deepEqual(a.service.versions('s', false), [1, 2]);
      assert.deepEqual(a.service.version('s', 2).id, 2);

      // A's candidate (n: long or double) reads v2 (n: long) but not the v3 B gets in first
      // (n: long or string): refused, against v3.
      letIn = () => b.client.register('s', withN('long', 'string'));
      await assert.rejects(a.client.register('s', withN('long', 'double')), (err) => {
        assert.ok(isTributaryError(err, 'SCHEMA_INCOMPATIBLE'), String(err));
        assert.match(err.message, /string/);
        return true;
      });
      await b.service.store.catchUp();
      assert.deepEqual(b.service.versions('s', false), [1, 2, 3]);
      assert.deepEqual(a.service.versions('s', false), [1, 2, 3]);
    } finally {
      await a.close();
      await b.close();
      await logA.close();
      await logB.close();
    }
  });

  test('a topic holding records that are not the registry’s is refused at start', async () => {
    const log = await freshLog();
    try {
      await log.createTopic('_schemas', { partitions: 1 });
      await log.produce([
        {
          topic: '_schemas',
          key: Buffer.from('{"keytype":"SCHEMA"}'),
          value: Buffer.from('{"subject":"x"}'),
        },
      ]);
      await assert.rejects(openRegistry({ log, onWarning: () => {} }), (err) =>
        isTributaryError(err, 'REGISTRY_STORE_INVALID'),
      );
      await log.createTopic('three', { partitions: 3 });
      await assert.rejects(openRegistry({ log, topic: 'three' }), (err) => {
        assert.ok(isTributaryError(err, 'REGISTRY_STORE_INVALID'));
        assert.match(err.message, /3 partitions/);
        return true;
      });
    } finally {
      await log.close();
    }
  });
});
