/**
 * Several registries on one log, writing at once: two servers and an in-process client
 * (as a producer registering through it), each with its own connection to the log,
 * register overlapping sets of schemas concurrently. The log's order decides: no id is
 * given to two schemas, a schema has one id everywhere, a subject's versions are
 * 1..n, and every instance ends with the same state.
 *
 * Within one process the embedded log's appends are synchronous, so decisions there
 * rarely interleave (the count of lost races printed is usually 0); on Kafka they do
 * (dozens per run). Races on the embedded log are exercised between processes by
 * cli.test.ts and deterministically by store.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Log } from '../../../src/log/log.ts';
import { openLog } from '../../../src/log/open.ts';
import { openRegistry } from '../../../src/server/registry/server.ts';
import { call, type Running, startRegistry, tempDir } from './helpers.ts';

const N = 24;
const schemaText = (i: number) =>
  JSON.stringify({
    type: 'record',
    name: 'conc',
    fields: [
      { name: 'id', type: 'string' },
      { name: `f${i}`, type: ['null', 'long'], default: null },
    ],
  });

/** Every id with its schema, every subject with its versions' ids, and the config, as one instance answers. */
async function state(url: string) {
  const ids = new Map<number, string>();
  for (let id = 1; id <= N + 1; id++) {
    const a = await call(url, 'GET', `/schemas/ids/${id}`);
    if (a.status === 200) ids.set(id, a.body.schema);
  }
  const subjects: Record<string, number[]> = {};
  for (const s of (await call(url, 'GET', '/subjects')).body as string[]) {
    const versions = (await call(url, 'GET', `/subjects/${s}/versions`)).body as number[];
    subjects[s] = [];
    for (const v of versions)
      subjects[s].push((await call(url, 'GET', `/subjects/${s}/versions/${v}`)).body.id);
    assert.deepEqual(
      versions,
      versions.map((_, i) => i + 1),
      `${s}: versions 1..n`,
    );
  }
  return { ids: [...ids.entries()], subjects };
}

async function concurrentWriters(open: () => Promise<Log>): Promise<void> {
  const logs = [await open(), await open(), await open()];
  const servers: Running[] = [];
  const inProcess = await openRegistry({ log: logs[2], topic: TOPIC });
  try {
    servers.push(await startRegistry({ log: logs[0], topic: TOPIC }));
    servers.push(await startRegistry({ log: logs[1], topic: TOPIC }));
    // Every schema is registered under 'shared-value' through all three writers at once,
    // and under a subject of its own through one of them.
    const answers: { i: number; id: number }[] = [];
    const work: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const body = { schema: schemaText(i) };
      for (const s of servers) {
        work.push(
          call(s.url, 'POST', '/subjects/shared-value/versions', body).then((a) => {
            assert.equal(a.status, 200, JSON.stringify(a.body));
            answers.push({ i, id: a.body.id });
          }),
        );
      }
      work.push(
        inProcess.client.register('shared-value', schemaText(i)).then((id) => void answers.push({ i, id })),
      );
      const own = servers[i % 2].url;
      work.push(
        call(own, 'POST', `/subjects/own-${i}-value/versions`, body).then((a) => {
          assert.equal(a.status, 200, JSON.stringify(a.body));
          answers.push({ i, id: a.body.id });
        }),
      );
    }
    await Promise.all(work);

    // One id per schema, one schema per id.
    const idOf = new Map<number, number>();
    for (const { i, id } of answers) {
      if (idOf.has(i)) assert.equal(id, idOf.get(i), `schema ${i} got two ids`);
      idOf.set(i, id);
    }
    assert.equal(new Set(idOf.values()).size, N, 'no id was given to two schemas');
    assert.deepEqual(
      [...idOf.values()].sort((a, b) => a - b),
      Array.from({ length: N }, (_, k) => k + 1),
    );

    for (const r of [...servers.map((s) => s.server.registry), inProcess]) await r.service.store.catchUp();
    const a = await state(servers[0].url);
    const b = await state(servers[1].url);
    assert.deepEqual(b, a, 'both servers end with the same state');
    assert.equal(a.ids.length, N);
    for (const [id, text] of a.ids)
      assert.equal(JSON.parse(text).fields[1].name, `f${[...idOf].find(([, v]) => v === id)![0]}`);
    assert.equal(a.subjects['shared-value'].length, N, 'each schema once under the shared subject');
    assert.equal(new Set(a.subjects['shared-value']).size, N);
    for (let i = 0; i < N; i++) assert.deepEqual(a.subjects[`own-${i}-value`], [idOf.get(i)]);
    // The in-process client agrees too.
    for (const [id, text] of a.ids) assert.equal(await inProcess.client.schemaById(id), text);
    const lost = [...servers.map((s) => s.server.registry), inProcess].reduce(
      (n, r) => n + r.service.store.lostRaces,
      0,
    );
    console.log(`# ${answers.length} registrations, ${lost} appends lost a race and were decided again`);
  } finally {
    for (const s of servers) await s.stop();
    await inProcess.close();
    for (const log of logs) await log.close();
  }
}

let TOPIC = '_schemas';

describe('registry: concurrent writers on one log', { timeout: 180_000 }, () => {
  test('embedded log: two servers and an in-process client, each with its own log handle', async () => {
    const dataDir = tempDir('conc');
    TOPIC = '_schemas';
    await concurrentWriters(() => openLog({ dataDir }));
  });

  const brokers = process.env.TRIBUTARY_TEST_KAFKA;
  test('Kafka: two servers and an in-process client, each with its own client', {
    skip: brokers ? undefined : 'TRIBUTARY_TEST_KAFKA is not set (source /tmp/kafka.env, or npm test)',
  }, async () => {
    TOPIC = `_schemas-conc-${randomUUID().slice(0, 8)}`;
    try {
      await concurrentWriters(() =>
        openLog({ dataDir: '.', kafka: brokers, clientId: 'tributary-registry-test' }),
      );
    } finally {
      const admin = await openLog({ dataDir: '.', kafka: brokers });
      await admin.deleteTopic(TOPIC).catch(() => {});
      await admin.close();
    }
  });
});
