/**
 * The registry's state lives in its topic: stopped and started again on the same data
 * directory (or the same Kafka topic), it answers exactly as before — ids, versions,
 * configuration, soft and permanent deletes — and gives the next new schema the next
 * id, never one it gave before.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Log } from '../../../src/log/log.ts';
import { call, SALES_V1, SALES_V2, startRegistry } from './helpers.ts';

const record = (name: string, extra: string[] = []) =>
  JSON.stringify({
    type: 'record',
    name,
    fields: [
      { name: 'id', type: 'string' },
      ...extra.map((f) => ({ name: f, type: ['null', 'long'], default: null })),
    ],
  });

/** Everything a client can read, through HTTP. */
async function snapshot(url: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const get = async (path: string) => {
    const a = await call(url, 'GET', path);
    out[path] = [a.status, a.body];
    return a.body;
  };
  const all = (await get('/subjects?deleted=true')) as string[];
  await get('/subjects');
  await get('/config');
  for (const s of all) {
    await get(`/config/${s}`);
    await get(`/subjects/${s}/versions`);
    for (const v of (await get(`/subjects/${s}/versions?deleted=true`)) as number[]) {
      await get(`/subjects/${s}/versions/${v}`);
      await get(`/subjects/${s}/versions/${v}?deleted=true`);
    }
  }
  for (let id = 1; id <= 8; id++) await get(`/schemas/ids/${id}/versions?deleted=true`);
  for (let id = 1; id <= 8; id++) await get(`/schemas/ids/${id}`);
  return out;
}

/** A history of changes of every kind. */
async function populate(url: string): Promise<void> {
  const ok = async (method: string, path: string, body?: unknown) => {
    const a = await call(url, method, path, body);
    assert.equal(a.status, 200, `${method} ${path}: ${JSON.stringify(a.body)}`);
    return a.body;
  };
  await ok('POST', '/subjects/sales.events.v1-value/versions', { schema: JSON.stringify(SALES_V1) });
  await ok('POST', '/subjects/sales.events.v1-value/versions', { schema: JSON.stringify(SALES_V2) });
  // The same schema under another subject: the same id.
  assert.deepEqual(await ok('POST', '/subjects/copy-value/versions', { schema: JSON.stringify(SALES_V1) }), {
    id: 1,
  });
  await ok('POST', '/subjects/a-value/versions', { schema: record('a') });
  await ok('POST', '/subjects/a-value/versions', { schema: record('a', ['x']) });
  await ok('POST', '/subjects/a-value/versions', { schema: record('a', ['x', 'y']) });
  await ok('DELETE', '/subjects/a-value/versions/2');
  await ok('POST', '/subjects/gone-value/versions', { schema: record('gone') });
  await ok('DELETE', '/subjects/gone-value');
  await ok('DELETE', '/subjects/gone-value?permanent=true');
  await ok('POST', '/subjects/soft-value/versions', { schema: record('soft') });
  await ok('DELETE', '/subjects/soft-value');
  await ok('PUT', '/config', { compatibility: 'FULL_TRANSITIVE' });
  await ok('PUT', '/config/copy-value', { compatibility: 'NONE' });
  await ok('PUT', '/config/a-value', { compatibility: 'FORWARD' });
  await ok('DELETE', '/config/a-value');
}

async function restartKeepsEverything(start: () => ReturnType<typeof startRegistry>): Promise<void> {
  const first = await start();
  await populate(first.url);
  const before = await snapshot(first.url);
  await first.stop();

  const second = await start();
  try {
    assert.deepEqual(await snapshot(second.url), before);
    // Spot checks of what the snapshot holds.
    assert.deepEqual(before['/subjects'], [200, ['a-value', 'copy-value', 'sales.events.v1-value']]);
    assert.deepEqual(before['/subjects/a-value/versions'], [200, [1, 3]]);
    assert.deepEqual(before['/config'], [200, { compatibilityLevel: 'FULL_TRANSITIVE' }]);
    assert.equal((before['/config/a-value'] as [number, { error_code: number }])[1].error_code, 40408);
    assert.equal((before['/schemas/ids/6'] as [number, { error_code: number }])[1].error_code, 40403);
    assert.deepEqual(before['/subjects/soft-value/versions/1?deleted=true'], [
      200,
      { subject: 'soft-value', version: 1, id: 7, schema: record('soft') },
    ]);
    assert.equal(
      (before['/subjects/soft-value/versions/1'] as [number, { error_code: number }])[1].error_code,
      40401,
    );

    // A new schema gets the next id: 8, after the 7 given (6, of the subject deleted for good, included) ...
    const added = await call(second.url, 'POST', '/subjects/new-value/versions', {
      schema: record('brand_new'),
    });
    assert.deepEqual(added.body, { id: 8 });
    // ... and the permanently deleted schema, registered again, gets its own id back.
    const back = await call(second.url, 'POST', '/subjects/gone-value/versions', { schema: record('gone') });
    assert.deepEqual(back.body, { id: 6 });
    const version = await call(second.url, 'GET', '/subjects/gone-value/versions/latest');
    assert.equal(version.body.version, 1);
  } finally {
    await second.stop();
  }
}

describe('registry: durable in its topic', { timeout: 120_000 }, () => {
  test('restarted on the same data directory, it answers as before', async () => {
    const first = await startRegistry();
    await first.stop();
    await restartKeepsEverything(() => startRegistry({ dataDir: first.dataDir }));
  });

  const brokers = process.env.TRIBUTARY_TEST_KAFKA;
  test('restarted on the same Kafka topic, it answers as before', {
    skip: brokers ? undefined : 'TRIBUTARY_TEST_KAFKA is not set (source /tmp/kafka.env, or npm test)',
  }, async () => {
    const { KafkaLog } = await import('../../../src/log/kafka/index.ts');
    const topic = `_schemas-test-${randomUUID().slice(0, 8)}`;
    const logs: Log[] = [];
    const open = () => {
      const log = new KafkaLog({ brokers: brokers!.split(','), clientId: 'tributary-registry-test' });
      logs.push(log);
      return startRegistry({ log, topic });
    };
    try {
      await restartKeepsEverything(open);
    } finally {
      for (const log of logs) await log.close();
      const admin = new KafkaLog({ brokers: brokers!.split(','), clientId: 'tributary-registry-test' });
      await admin.deleteTopic(topic).catch(() => {});
      await admin.close();
    }
  });
});
