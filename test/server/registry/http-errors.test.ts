/**
 * The REST API's answers as Confluent's clients read them: every error code the
 * registry answers with, reached through HTTP, with its status and content type; the
 * request content types clients send; and the small endpoints they probe.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TributaryError } from '../../../src/core/errors.ts';
import type { Log } from '../../../src/log/log.ts';
import { openLog } from '../../../src/log/open.ts';
import { call, type Running, SALES_V1, SALES_V2, SALES_V3, startRegistry } from './helpers.ts';

const CT = 'application/vnd.schemaregistry.v1+json';
const v1 = { schema: JSON.stringify(SALES_V1) };

async function expectError(
  url: string,
  method: string,
  path: string,
  status: number,
  code: number,
  body?: unknown,
) {
  const a = await call(url, method, path, body);
  assert.equal(a.status, status, `${method} ${path}: ${JSON.stringify(a.body)}`);
  assert.equal(a.body.error_code, code, `${method} ${path}: ${JSON.stringify(a.body)}`);
  assert.equal(typeof a.body.message, 'string');
  assert.ok(a.contentType?.startsWith(CT), `${method} ${path}: content type ${a.contentType}`);
  return a.body.message as string;
}

/** The log as it is when the broker goes away under the registry: reads work, appends fail. */
function appendsFail(inner: Log): Log {
  return {
    description: `failing ${inner.description}`,
    createTopic: (name, config) => inner.createTopic(name, config),
    ensureTopic: (name, config) => inner.ensureTopic(name, config),
    deleteTopic: (name) => inner.deleteTopic(name),
    listTopics: () => inner.listTopics(),
    describeTopic: (name) => inner.describeTopic(name),
    produce: async () => {
      throw new TributaryError('LOG_BROKER', 'the broker is gone');
    },
    fetch: (topic, partition, offset, options) => inner.fetch(topic, partition, offset, options),
    fetchValues: (topic, partition, offset, options) => inner.fetchValues(topic, partition, offset, options),
    offsets: (topic, partition) => inner.offsets(topic, partition),
    commitOffsets: (group, offsets) => inner.commitOffsets(group, offsets),
    committedOffsets: (group, topic) => inner.committedOffsets(group, topic),
    close: () => inner.close(),
  };
}

describe('registry: HTTP errors and content types', { timeout: 60_000 }, () => {
  let reg: Running;
  before(async () => {
    reg = await startRegistry();
    const ok = async (method: string, path: string, body?: unknown) =>
      assert.equal((await call(reg.url, method, path, body)).status, 200);
    await ok('POST', '/subjects/s-value/versions', v1);
    await ok('POST', '/subjects/s-value/versions', { schema: JSON.stringify(SALES_V2) });
  });
  after(async () => {
    await reg?.stop();
  });

  test('404: 40401 subject, 40402 version, 40403 schema, 40408 subject config', async () => {
    const u = reg.url;
    await expectError(u, 'GET', '/subjects/nope/versions', 404, 40401);
    await expectError(u, 'GET', '/subjects/nope/versions/latest', 404, 40401);
    await expectError(u, 'POST', '/subjects/nope', 404, 40401, v1);
    await expectError(u, 'DELETE', '/subjects/nope', 404, 40401);
    await expectError(u, 'GET', '/subjects/s-value/versions/7', 404, 40402);
    await expectError(u, 'POST', '/compatibility/subjects/s-value/versions/7', 404, 40402, v1);
    await expectError(u, 'GET', '/schemas/ids/999', 404, 40403);
    await expectError(u, 'GET', '/schemas/ids/abc', 404, 40403);
    await expectError(u, 'POST', '/subjects/s-value', 404, 40403, { schema: '"string"' });
    assert.match(await expectError(u, 'GET', '/config/s-value', 404, 40408), /s-value/);
    await expectError(u, 'DELETE', '/config/s-value', 404, 40408);
  });

  test('404: deletes out of order, 40404-40407, as Confluent’s registry', async () => {
    const u = reg.url;
    assert.equal((await call(u, 'POST', '/subjects/d-value/versions', v1)).status, 200);
    await expectError(u, 'DELETE', '/subjects/d-value/versions/1?permanent=true', 404, 40407);
    await expectError(u, 'DELETE', '/subjects/d-value?permanent=true', 404, 40405);
    assert.deepEqual((await call(u, 'DELETE', '/subjects/d-value/versions/1')).body, 1);
    await expectError(u, 'DELETE', '/subjects/d-value/versions/1', 404, 40406);
    await expectError(u, 'DELETE', '/subjects/d-value', 404, 40404);
    assert.deepEqual((await call(u, 'DELETE', '/subjects/d-value?permanent=true')).body, [1]);
    await expectError(u, 'GET', '/subjects/d-value/versions?deleted=true', 404, 40401);
  });

  test('409: an incompatible schema, with the reason', async () => {
    const message = await expectError(reg.url, 'POST', '/subjects/s-value/versions', 409, 409, {
      schema: JSON.stringify(SALES_V3),
    });
    assert.match(message, /currency/);
    assert.match(message, /BACKWARD/);
    const verbose = await call(
      reg.url,
      'POST',
      '/compatibility/subjects/s-value/versions/latest?verbose=true',
      {
        schema: JSON.stringify(SALES_V3),
      },
    );
    assert.equal(verbose.body.is_compatible, false);
    assert.match(verbose.body.messages.join('\n'), /currency/);
    const terse = await call(reg.url, 'POST', '/compatibility/subjects/s-value/versions', {
      schema: JSON.stringify(SALES_V3),
    });
    assert.deepEqual(terse.body, { is_compatible: false });
  });

  test('422: 42201 invalid schema (and types, references), 42202 version, 42203 level, 42204 mode', async () => {
    const u = reg.url;
    assert.match(
      await expectError(u, 'POST', '/subjects/s-value/versions', 422, 42201, { schema: '{"type":"recrd"}' }),
      /recrd/,
    );
    await expectError(u, 'POST', '/subjects/s-value/versions', 422, 42201, { schema: '{not json' });
    await expectError(u, 'POST', '/subjects/s-value/versions', 422, 42201, {});
    assert.match(
      await expectError(u, 'POST', '/subjects/s-value/versions', 422, 42201, {
        schema: 'syntax = "proto3";',
        schemaType: 'PROTOBUF',
      }),
      /Avro/,
    );
    await expectError(u, 'POST', '/subjects/s-value/versions', 422, 42201, {
      ...v1,
      references: [{ name: 'x', subject: 'y', version: 1 }],
    });
    await expectError(u, 'POST', '/compatibility/subjects/s-value/versions/latest', 422, 42201, {
      schema: '"nope"',
    });
    await expectError(u, 'GET', '/subjects/s-value/versions/0', 422, 42202);
    await expectError(u, 'GET', '/subjects/s-value/versions/abc', 422, 42202);
    await expectError(u, 'DELETE', '/subjects/s-value/versions/-2', 422, 42202);
    await expectError(u, 'PUT', '/config', 422, 42203, { compatibility: 'SOMETIMES' });
    await expectError(u, 'PUT', '/config/s-value', 422, 42203, {});
    await expectError(u, 'PUT', '/mode', 422, 42204, { mode: 'IMPORT' });
  });

  test('500: 50001 when the registry’s store fails', async () => {
    const real = await openLog({ dataDir: reg.dataDir });
    const broken = await startRegistry({ log: appendsFail(real) });
    try {
      const message = await expectError(broken.url, 'POST', '/subjects/t-value/versions', 500, 50001, v1);
      assert.match(message, /broker is gone/);
      // Reads are answered from memory all the same.
      assert.equal((await call(broken.url, 'GET', '/subjects/s-value/versions/latest')).status, 200);
    } finally {
      await broken.stop();
      await real.close();
    }
  });

  test('requests as JSON whatever the content type says, or none', async () => {
    for (const type of [
      'application/vnd.schemaregistry.v1+json',
      'application/vnd.schemaregistry+json',
      'application/json',
      null,
    ]) {
      const a = await call(reg.url, 'POST', '/subjects/s-value', v1, type);
      assert.equal(a.status, 200, `${type}: ${JSON.stringify(a.body)}`);
      assert.equal(a.body.version, 1);
      assert.ok(a.contentType?.startsWith(CT));
    }
    const bad = await call(reg.url, 'POST', '/subjects/s-value', '{oops', 'application/json');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error_code, 400);
  });

  test('what clients probe: /, /mode, /schemas/types, /health, and a clean 404 for what is not here', async () => {
    assert.deepEqual((await call(reg.url, 'GET', '/')).body, {});
    assert.deepEqual((await call(reg.url, 'GET', '/mode')).body, { mode: 'READWRITE' });
    assert.deepEqual((await call(reg.url, 'GET', '/schemas/types')).body, ['AVRO']);
    const health = await call(reg.url, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'UP');
    // Python's confluent-kafka 2.16 probes associations first and takes a 404 as "none".
    const probe = await call(reg.url, 'GET', '/associations/resources/-/sales.events.v1?resourceType=topic');
    assert.equal(probe.status, 404);
    assert.equal(probe.body.error_code, 404);
    const raw = await call(reg.url, 'GET', '/subjects/s-value/versions/1/schema');
    assert.deepEqual(raw.body, SALES_V1);
    const withMax = await call(reg.url, 'GET', '/schemas/ids/1?fetchMaxId=true&subject=s-value');
    assert.equal(withMax.body.maxId, 2);
  });
});
