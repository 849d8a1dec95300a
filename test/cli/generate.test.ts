/** `tributary generate clickstream`, run as a user runs it: `bin/tributary.js` into the embedded log of a temp data dir. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClickstreamGenerator } from '../../src/connectors/generators/clickstream.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { Log } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { partitionForKey } from '../../src/log/partitioner.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tributary.js');
const dataDir = mkdtempSync(join(tmpdir(), 'tributary-cli-generate-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
    child.stdin.end();
  });
}

/** Every record of the topic, by partition: [key, value] as text. */
async function readTopic(
  log: Log,
  topic: string,
  partitions: number,
): Promise<Array<Array<[string, string]>>> {
  const dec = new TextDecoder();
  const out: Array<Array<[string, string]>> = [];
  for (let p = 0; p < partitions; p++) {
    const recs: Array<[string, string]> = [];
    let offset = 0;
    for (;;) {
      const f = await log.fetch(topic, p, offset);
      for (const r of f.records) recs.push([dec.decode(r.key!), dec.decode(r.value!)]);
      if (f.records.length === 0 || f.nextOffset >= f.highWatermark) break;
      offset = f.nextOffset;
    }
    out.push(recs);
  }
  return out;
}

function eventIds(values: string[]): Set<string> {
  const ids = new Set<string>();
  for (const v of values) {
    try {
      const id = JSON.parse(v).event_id;
      if (typeof id === 'string') ids.add(id);
    } catch {}
  }
  return ids;
}

describe('tributary generate clickstream', { timeout: 120_000 }, () => {
  test('produces the seed-determined events into user-events: 3 partitions by user_id, 24 h retention', async () => {
    const r = await cli(['generate', 'clickstream', '--events', '20000', '--seed', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /produced 20000 records to 'user-events'/);

    // What the generator gives for seed 3 (timestamps aside, which follow the system clock).
    const g = new ClickstreamGenerator({ seed: 3, clock: new ManualClock(Date.UTC(2026, 10, 30)) });
    const expected: string[][] = [[], [], []];
    const expectedValues: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const rec = g.next();
      expected[partitionForKey(Buffer.from(rec.key), 3)].push(rec.key);
      expectedValues.push(rec.value);
    }

    let log = await openLog({ dataDir });
    let firstRun: Array<Array<[string, string]>>;
    try {
      const info = await log.describeTopic('user-events');
      assert.deepEqual(
        { partitions: info.partitions, retentionMs: info.retentionMs },
        { partitions: 3, retentionMs: 86_400_000 },
      );
      firstRun = await readTopic(log, 'user-events', 3);
      assert.equal(
        firstRun.reduce((s, p) => s + p.length, 0),
        20_000,
      );
      for (let p = 0; p < 3; p++) {
        assert.ok(firstRun[p].length > 3000, `partition ${p} holds ${firstRun[p].length} records`);
        assert.deepEqual(
          firstRun[p].map(([k]) => k),
          expected[p],
          `partition ${p}: the generator's keys, in order`,
        );
      }
      assert.deepEqual(eventIds(firstRun.flat().map(([, v]) => v)), eventIds(expectedValues));
    } finally {
      await log.close();
    }

    // A second run with the same seed continues the topic: no event id of the first run again.
    const again = await cli(['generate', 'clickstream', '--events', '2000', '--seed', '3']);
    assert.equal(again.code, 0, again.stderr);
    log = await openLog({ dataDir });
    try {
      const parts = await readTopic(log, 'user-events', 3);
      assert.equal(
        parts.reduce((s, p) => s + p.length, 0),
        22_000,
      );
      const first = eventIds(firstRun.flat().map(([, v]) => v));
      const second = eventIds(parts.flatMap((recs, p) => recs.slice(firstRun[p].length).map(([, v]) => v)));
      assert.ok(second.size > 1900);
      for (const id of second) assert.ok(!first.has(id), `event id ${id} repeated by the second run`);
    } finally {
      await log.close();
    }
  });

  test('usage: both scenarios listed, clickstream-only options refused for orders', async () => {
    const help = await cli(['generate', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: tributary generate orders\|clickstream/);
    const unknown = await cli(['generate', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /available: orders, clickstream/);
    const wrong = await cli(['generate', 'orders', '--late-rate', '0.1', '--events', '1']);
    assert.equal(wrong.code, 2);
    assert.match(
      wrong.stderr,
      /CONFIG_INVALID.*--late-rate applies to 'generate clickstream' and 'generate sales' only/,
    );
    const bad = await cli(['generate', 'clickstream', '--late-rate', '0.6', '--out-of-order-rate', '0.6']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /CONFIG_INVALID.*add up to/);
  });

  test('sales: listed; its own options checked; nothing produced on a refusal; the embedded registry by default', async () => {
    const help = await cli(['generate', '--help']);
    assert.match(help.stdout, /usage: tributary generate orders\|clickstream\|sales/);
    assert.match(help.stdout, /--registry URL/);
    const notUrl = await cli(['generate', 'sales', '--registry', 'localhost:8081']);
    assert.equal(notUrl.code, 2);
    assert.match(notUrl.stderr, /'localhost:8081' is not a schema registry URL/);
    const version = await cli([
      'generate',
      'sales',
      '--schema-version',
      '3',
      '--registry',
      'http://127.0.0.1:1',
    ]);
    assert.match(version.stderr, /--schema-version must be 1 or 2, got '3'/);
    const both = await cli([
      'generate',
      'sales',
      '--schema-version',
      '2',
      '--switch-at',
      '5',
      '--registry',
      'http://127.0.0.1:1',
    ]);
    assert.match(both.stderr, /--switch-at moves from version 1 to 2/);
    const elsewhere = await cli(['generate', 'clickstream', '--switch-at', '5']);
    assert.match(elsewhere.stderr, /--switch-at applies to 'generate sales' only/);
    const ooo = await cli(['generate', 'sales', '--out-of-order-rate', '0.1']);
    assert.match(
      ooo.stderr,
      /--out-of-order-rate applies to 'generate orders' and 'generate clickstream' only/,
    );
    let log = await openLog({ dataDir });
    try {
      assert.ok(!(await log.listTopics()).some((t) => t.name === 'sales.events.v1'));
    } finally {
      await log.close();
    }
    // Without --registry: the embedded registry, in topic _schemas of the same log.
    const embedded = await cli(['generate', 'sales', '--events', '10']);
    assert.equal(embedded.code, 0, embedded.stderr);
    assert.match(embedded.stdout, /writing sales_event version 1: schema id 1 under 'sales.events.v1-value'/);
    log = await openLog({ dataDir });
    try {
      let records = 0;
      for (let p = 0; p < 3; p++) records += (await log.offsets('sales.events.v1', p)).latest;
      assert.equal(records, 10);
      assert.ok((await log.listTopics()).some((t) => t.name === '_schemas'));
    } finally {
      await log.close();
    }
  });
});
