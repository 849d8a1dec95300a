/** The topics, produce and consume commands, run as a user runs them: `bin/tributary.js` in a temp data dir. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { partitionForKey } from '../../src/log/partitioner.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tributary.js');
const dataDir = mkdtempSync(join(tmpdir(), 'tributary-cli-log-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function cli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, TRIBUTARY_DATA_DIR: dataDir, TRIBUTARY_KAFKA: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('tributary topics / produce / consume', { timeout: 60_000 }, () => {
  test('create, list, describe, produce keyed NDJSON, consume, delete', async () => {
    let r = await cli(['topics', 'create', 'orders', '--partitions', '4', '--retention-ms', '86400000']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['topics', 'create', 'orders', '--partitions', '4']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /LOG_TOPIC_EXISTS/);

    r = await cli(['topics', 'list', '--json']);
    assert.deepEqual(JSON.parse(r.stdout), [{ name: 'orders', partitions: 4, retentionMs: 86400000 }]);

    const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ order_id: `o-${i % 5}`, n: i }));
    r = await cli(['produce', 'orders', '--key-field', 'order_id'], `${lines.join('\n')}\n\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /produced 25 record/);

    r = await cli(['topics', 'describe', 'orders', '--json']);
    const described = JSON.parse(r.stdout);
    const expectedCounts = [0, 0, 0, 0];
    for (let i = 0; i < 25; i++) expectedCounts[partitionForKey(Buffer.from(`o-${i % 5}`), 4)]++;
    assert.deepEqual(
      described.partitionOffsets.map((p: { latest: number }) => p.latest),
      expectedCounts,
    );

    r = await cli(['consume', 'orders', '--from-beginning', '--max', '25']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(out.length, 25);
    for (const rec of out) {
      assert.equal(rec.key, rec.value.order_id);
      assert.equal(rec.partition, partitionForKey(Buffer.from(rec.key), 4));
    }
    assert.deepEqual(
      out.map((o) => o.value.n).sort((a, b) => a - b),
      Array.from({ length: 25 }, (_, i) => i),
    );
    // Per key, records come out in the order they were produced.
    for (let k = 0; k < 5; k++) {
      const ns = out.filter((o) => o.key === `o-${k}`).map((o) => o.value.n);
      assert.deepEqual(ns, [k, k + 5, k + 10, k + 15, k + 20]);
    }

    r = await cli(['topics', 'delete', 'orders']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['topics', 'describe', 'orders']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /LOG_TOPIC_NOT_FOUND/);
  });

  test('a consumer group resumes where it stopped', async () => {
    assert.equal((await cli(['topics', 'create', 'events'])).code, 0);
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ i }));
    assert.equal((await cli(['produce', 'events'], lines.join('\n'))).code, 0);
    const first = await cli(['consume', 'events', '--group', 'g1', '--from-beginning', '--max', '4']);
    assert.equal(first.code, 0, first.stderr);
    const second = await cli(['consume', 'events', '--group', 'g1', '--timeout-ms', '300']);
    assert.equal(second.code, 0, second.stderr);
    const values = (s: string) =>
      s
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l).value.i);
    assert.deepEqual(values(first.stdout), [0, 1, 2, 3]);
    assert.deepEqual(values(second.stdout), [4, 5, 6, 7, 8, 9]);
    // Without --from-beginning and no group, only new records: none within the timeout.
    const latest = await cli(['consume', 'events', '--timeout-ms', '200']);
    assert.equal(latest.stdout, '');
  });

  test('bad input is reported with its line, and --help works', async () => {
    assert.equal((await cli(['topics', 'create', 'bad'])).code, 0);
    const r = await cli(['produce', 'bad', '--key-field', 'id'], '{"id":1}\n{"id":2}\nnot json\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /INPUT_INVALID.*line 3/);
    const missing = await cli(['produce', 'bad', '--key-field', 'id'], '{"other":1}\n');
    assert.match(missing.stderr, /line 1 has no field 'id'/);
    for (const cmd of ['topics', 'produce', 'consume']) {
      const h = await cli([cmd, '--help']);
      assert.equal(h.code, 0);
      assert.match(h.stdout, new RegExp(`usage: tributary ${cmd}`));
    }
    const noTopic = await cli(['produce', 'nope'], '{}\n');
    assert.match(noTopic.stderr, /LOG_TOPIC_NOT_FOUND.*topics create nope/);
  });
});
