/**
 * `tributary demo saas` as a user runs it, on the embedded defaults: the registry served
 * over HTTP, the generator registering v1, then v2 midway, the breaking v3 refused with
 * 409, the pipeline landing both versions in the same tables. Afterwards the test reads
 * what the demo left with independent means: the raw topic classified by the oracle
 * (avsc, src/scenarios/saas-sales/oracle.ts) against the DLQ topic's records, silver's
 * schema versions against the oracle's events, and every command the demo printed run
 * through a shell exactly as printed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { readSalesTopic } from '../../src/scenarios/saas-sales/expected.ts';
import { classify, dedup } from '../../src/scenarios/saas-sales/oracle.ts';
import { openRegistry } from '../../src/server/registry/server.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { BIN, exitWithin, installedBin, runPrintedCommands, startCli } from '../helpers/cli-child.ts';
import { ROOT } from '../interop/helpers.ts';

const EVENTS = 4000;

/** The JSON rows of a query over the demo's tables. */
function query(data: string, sql: string): Array<Record<string, unknown>> {
  const r = spawnSync(process.execPath, [BIN, 'query', '--format', 'json', '--data-dir', data, sql], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('tributary demo saas: v1 then v2 in the same tables, v3 refused with 409, the DLQ exact, the printed commands run', {
  timeout: 240_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-demo-saas-'));
  try {
    const data = join(dir, 'data');
    // A high rate: the pipeline's first batch holds hundreds of records, among them late
    // ones (up to 15 minutes behind) whose windows the first watermark closes: gold gets
    // rows without the demo running for minutes.
    const { exit } = startCli(
      [
        'demo',
        'saas',
        '--events',
        String(EVENTS),
        '--rate',
        '20000',
        '--seed',
        '13',
        '--registry-port',
        '0',
        '--data-dir',
        data,
      ],
      { TRIBUTARY_DATA_DIR: '', TRIBUTARY_KAFKA: '', TRIBUTARY_REGISTRY: '' },
    );
    const r = await exitWithin(exit, 200_000);
    assert.ok(r, 'the demo ends once its events are generated and landed');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = r.stdout;
    const url = /schema registry at (http:\/\/127\.0\.0\.1:\d+) \(Confluent's REST API\)/.exec(out)?.[1];
    assert.ok(url, out);
    assert.ok(out.includes(`  curl ${url}/subjects\n`), out);
    assert.match(out, /registered sales_event v1 under 'sales\.events\.v1-value' over HTTP: schema id \d+/);
    assert.match(
      out,
      /after 2000 records: registered sales_event v2 \(adds the optional discount_code, default null\) under 'sales\.events\.v1-value': schema id \d+/,
    );
    // The registry's own answer: status, error code, and the message naming v3's field.
    assert.match(
      out,
      /schema v3 .* refused: HTTP 409, error_code 409\n {2}.*'sales_event\.sales_channel' was added without a default/,
    );
    assert.match(out, /done in [\d.]+ s: every event generated is read and committed/);
    assert.match(out, new RegExp(`generated ${EVENTS} records: 2000 with schema v1, 2000 with v2`));

    // The raw topic, classified independently (avsc over the registry's schemas).
    const log = await openLog({ dataDir: data, clientId: 'test' });
    let raw: Awaited<ReturnType<typeof readSalesTopic>>;
    const dlq: Array<{ partition: number; offset: number; bytes: Uint8Array | null; rule: string }> = [];
    try {
      const registry = await openRegistry({ log });
      try {
        raw = await readSalesTopic(log, 'sales.events.v1', registry.client);
      } finally {
        await registry.close();
      }
      for (let p = 0; p < 3; p++) {
        const { latest } = await log.offsets('sales.events.dlq.v1', p);
        let offset = 0;
        while (offset < latest) {
          const f = await log.fetch('sales.events.dlq.v1', p, offset);
          for (const rec of f.records) {
            const d = decodeDeadLetter(rec.value!);
            assert.equal(d.source_topic, 'sales.events.v1');
            dlq.push({
              partition: d.source_partition,
              offset: d.source_offset,
              bytes: originalBytes(d),
              rule: d.rule,
            });
          }
          offset = f.nextOffset;
        }
      }
    } finally {
      await log.close();
    }
    assert.equal(raw.records.length, EVENTS);
    const { invalid, valid } = classify(raw.records, raw.schemas);
    assert.ok(invalid.length > 0, 'the generator made invalid records');
    // Every invalid record in the DLQ once, with its bytes unchanged; nothing else there.
    const key = (x: { partition: number; offset: number }) => `${x.partition}/${x.offset}`;
    assert.deepEqual(dlq.map(key).sort(), invalid.map(key).sort());
    const byKey = new Map(raw.records.map((x) => [key(x), x.value]));
    for (const d of dlq) assert.deepEqual(d.bytes, byKey.get(key(d)), `DLQ record ${key(d)} keeps its bytes`);
    const dlqLine = new RegExp(`DLQ sales\\.events\\.dlq\\.v1: \\+${invalid.length} records: `);
    assert.match(out, dlqLine);

    // Both versions in silver, each event once; v1's discount_code null.
    const { events } = dedup(valid);
    const expected = [1, 2].map((v) => ({
      schema_version: v,
      events: events.filter((e) => e.schemaVersion === v).length,
      with_discount_code: events.filter((e) => e.schemaVersion === v && e.discountCode !== null).length,
    }));
    const silver = query(
      data,
      'SELECT schema_version, count(*) AS events, count(discount_code) AS with_discount_code FROM sales_silver GROUP BY 1 ORDER BY 1',
    ).map((row) => ({
      schema_version: Number(row.schema_version),
      events: Number(row.events),
      with_discount_code: Number(row.with_discount_code),
    }));
    assert.deepEqual(silver, expected);
    assert.equal(expected[0].with_discount_code, 0, 'v1 records read with v2: discount_code null');
    assert.ok(expected[0].events > 0 && expected[1].with_discount_code > 0);
    assert.match(
      out,
      new RegExp(
        `sales_silver by schema_version: v1 ${expected[0].events} events \\(discount_code null\\), v2 ${expected[1].events} events \\(${expected[1].with_discount_code} with a discount_code\\)`,
      ),
    );
    const [{ gold }] = query(data, 'SELECT count(*) AS gold FROM sales_revenue_5m');
    assert.ok(Number(gold) > 0, 'gold holds windows');

    // Every command printed after "try:" runs as printed, and shows rows.
    const printed = runPrintedCommands(out, dir, 5);
    const bin = installedBin(dir);
    // The commands of docs/saas-sales.md, from its DLQ section to its analytical SQL, run
    // on the demo's data directory as they are written there.
    const doc = readFileSync(join(ROOT, 'docs', 'saas-sales.md'), 'utf8');
    const section = doc.slice(doc.indexOf('\n## The DLQ and its reasons'), doc.indexOf('\n## Generator'));
    const documented = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
      m[1].replaceAll('npx tributary', 'tributary'),
    );
    assert.ok(documented.length >= 8, section);
    for (const command of documented) {
      const run = spawnSync('sh', ['-c', command], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          TRIBUTARY_DATA_DIR: data,
          TRIBUTARY_KAFKA: '',
        },
      });
      assert.equal(run.status, 0, `${command}\n${run.stderr}`);
      assert.ok(
        /\(\d+ rows?\)\s*$/.test(run.stdout) || /^\{"partition"/.test(run.stdout),
        `${command}\n${run.stdout}`,
      );
      assert.doesNotMatch(run.stdout, /\(0 rows\)/, command);
    }
    // The last printed command, the DLQ by reason, counts every DLQ record.
    const counted = [...printed[4].matchAll(/\|\s+(\d+)\s*$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    assert.equal(counted, invalid.length, 'the DLQ command counts every DLQ record');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tributary demo saas until Ctrl-C: stops cleanly with its summary', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-demo-saas-stop-'));
  try {
    const data = join(dir, 'data');
    const { child, exit } = startCli(
      ['demo', 'saas', '--rate', '500', '--seed', '5', '--registry-port', '0', '--data-dir', data],
      { TRIBUTARY_DATA_DIR: '', TRIBUTARY_KAFKA: '', TRIBUTARY_REGISTRY: '' },
    );
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    // Stop once a progress line shows rows in silver.
    while (!/silver [1-9]\d*/.test(out)) {
      assert.equal(child.exitCode, null, out);
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGINT');
    const r = await exitWithin(exit, 60_000);
    assert.ok(r, 'the demo stops after the batch in flight');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /stopped after [\d.]+ s: the tables hold what was committed/);
    assert.match(r.stdout, /sales_silver by schema_version: v1 [1-9]\d* events \(discount_code null\)/);
    assert.match(r.stdout, /\ntry:\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
