/**
 * Definitions refused before anything runs, with the file, line and column of the
 * problem and what is expected: the YAML front end, the TypeScript one, and the checks
 * that bind the SQL (`tributary pipeline validate`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { checkDefinition } from '../../src/pipeline/compile.ts';
import { definePipeline } from '../../src/pipeline/definition.ts';
import { fromObject, fromYaml } from '../../src/pipeline/load.ts';
import { applySet } from '../../src/pipeline/overrides.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tributary.js');

/** A small valid definition; each case breaks one line of it. */
const BASE = `name: clicks
source:
  topic: clicks
contract:
  name: clicks.v1
  fields:
    - { name: user_id, type: string }
    - { name: page, type: string }
    - { name: ts, type: integer }
event_time:
  expr: to_timestamp(ts)
  watermark: 2 minutes
transforms:
  - name: views
    sql: SELECT user_id, page, to_timestamp(ts) AS viewed_at FROM input
sinks:
  - name: views
    type: delta_append
    from: views
    table: page_views
`;

function problem(text: string): string {
  try {
    fromYaml(text, 'p.yaml');
  } catch (err) {
    assert.ok(isTributaryError(err) && err.code === 'PIPELINE_INVALID', String(err));
    return err.message;
  }
  assert.fail('the definition was accepted');
}

async function checkProblem(text: string): Promise<string> {
  try {
    await checkDefinition(fromYaml(text, 'p.yaml'));
  } catch (err) {
    assert.ok(isTributaryError(err) && err.code === 'PIPELINE_INVALID', String(err));
    return err.message;
  }
  assert.fail('the definition was accepted');
}

describe('pipeline definitions: shape', () => {
  it('accepts the base definition and binds its SQL', async () => {
    const { plan, checked } = await checkDefinition(fromYaml(BASE, 'p.yaml'));
    assert.equal(plan.sinks.length, 1);
    assert.deepEqual(checked.sinkColumns.get('views')?.names, ['user_id', 'page', 'viewed_at']);
  });

  it('refuses an unknown key at its line and column, suggesting the near one', () => {
    const msg = problem(BASE.replace('    table: page_views', '    table: page_views\n    tabel_size: 3'));
    assert.match(msg, /p\.yaml:21:5: sinks\[0\]\.tabel_size: unknown key 'tabel_size'/);
    const near = problem(BASE.replace('  watermark: 2 minutes', '  watermrk: 2 minutes'));
    assert.match(
      near,
      /p\.yaml:12:3: event_time\.watermrk: unknown key 'watermrk' \(did you mean 'watermark'\?\)/,
    );
  });

  it('refuses a wrong type with what is expected', () => {
    const msg = problem(BASE.replace('watermark: 2 minutes', 'watermark: 120'));
    assert.match(msg, /p\.yaml:12:14: event_time\.watermark: expected a duration such as '500ms'.*got 120/);
    const type = problem(BASE.replace('type: integer', 'type: int'));
    assert.match(
      type,
      /p\.yaml:9:25: contract\.fields\[2\]\.type: expected one of string, integer, number, boolean, array, object, timestamp, got "int"/,
    );
  });

  it('refuses a MERGE sink without a key, and an unknown sink type', () => {
    const merge = problem(BASE.replace('type: delta_append', 'type: delta_merge'));
    assert.match(merge, /p\.yaml:17:5: sinks\[0\]: missing required key 'key'/);
    const kind = problem(BASE.replace('type: delta_append', 'type: parquet'));
    assert.match(
      kind,
      /sinks\[0\]: expected 'type' to be one of delta_append, delta_merge, topic, postgres, got "parquet"/,
    );
  });

  it('reports YAML syntax errors and duplicate keys with their position', () => {
    assert.match(problem(`${BASE}  - name: [unclosed\n`), /not valid YAML:\n {2}p\.yaml:\d+:\d+: /);
    assert.match(
      problem(BASE.replace('name: clicks', 'name: clicks\nname: again')),
      /p\.yaml:2:1: Map keys must be unique/,
    );
  });

  it('reports every problem at once', () => {
    const msg = problem(
      BASE.replace('topic: clicks', 'topik: clicks').replace('type: string }', 'type: strin }'),
    );
    assert.match(
      msg,
      /has 2 problems:\n.*p\.yaml:3:3: source: expected \{ topic: NAME \}.*, got the keys topik\n.*p\.yaml:7:30: contract\.fields\[0\]\.type/,
    );
  });

  it('checks a definition given in TypeScript the same way, by path', () => {
    const def = definePipeline({
      name: 'x',
      source: { topic: 't' },
      contract: { name: 'c', fields: [{ name: 'a', type: 'string' }] },
      sinks: [{ name: 's', type: 'delta_append', from: 'input', table: 't' }],
    });
    assert.equal(fromObject(def).definition, def);
    assert.throws(
      () => fromObject({ ...def, runtime: { trigger: 'soon' } }),
      /pipeline definition: runtime\.trigger: expected a duration/,
    );
  });

  it('--set changes a key, addressing list entries by name, and is checked like the file', () => {
    const def = fromYaml(BASE, 'p.yaml').definition;
    const changed = applySet(def, 'sinks.views.compression=snappy');
    assert.equal((changed.sinks[0] as { compression?: string }).compression, 'snappy');
    assert.equal(
      (def.sinks[0] as { compression?: string }).compression,
      undefined,
      'the original is unchanged',
    );
    assert.throws(
      () => fromObject(applySet(def, 'sinks.views.compression=lz4')),
      /expected one of zstd, snappy/,
    );
    assert.throws(() => applySet(def, 'sinks.nope.compression=zstd'), /'sinks\.nope' names nothing/);
  });
});

describe('pipeline definitions: checked against the SQL engine before running', () => {
  it('an unknown column in a transform points at its SQL', async () => {
    const msg = await checkProblem(BASE.replace('SELECT user_id, page,', 'SELECT user_id, pgae,'));
    assert.match(msg, /p\.yaml:15:10: transforms\[0\]\.sql: .*"pgae" not found/);
  });

  it('a window on a column that is not a timestamp', async () => {
    const text = BASE.replace(
      'sinks:',
      `  - name: per_minute
    window: { type: tumble, size: 1 minute, time: page }
    group_by: [page]
    aggregates: { views: count(*) }
sinks:`,
    );
    assert.match(
      await checkProblem(text),
      /transforms\[1\]\.window\.time: a window's time column must be a timestamp; 'page' is VARCHAR/,
    );
  });

  it('a sink reading a relation that does not exist, and a MERGE key not in the rows', async () => {
    assert.match(
      await checkProblem(BASE.replace('from: views', 'from: veiws')),
      /p\.yaml:19:11: sinks\[0\]\.from: unknown relation 'veiws'; expected one of input, views/,
    );
    const merge = BASE.replace('type: delta_append', 'type: delta_merge\n    key: [session_id]');
    assert.match(
      await checkProblem(merge),
      /sinks\[0\]\.key\[0\]: the key column 'session_id' is not a column of 'views'/,
    );
  });

  it('an event time that is not a timestamp', async () => {
    assert.match(
      await checkProblem(BASE.replace('expr: to_timestamp(ts)', 'expr: ts')),
      /p\.yaml:11:9: event_time\.expr: the event time must be a timestamp, got BIGINT/,
    );
  });

  it('a declared column type that does not parse', async () => {
    const text = `${BASE}tables:\n  - name: page_views\n    columns:\n      - { name: user_id, type: 'array<strin>' }\n`;
    assert.match(await checkProblem(text), /tables\[0\]\.columns\[0\]\.type: unknown type 'strin'/);
  });
});

describe('tributary pipeline validate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-validate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

  it('says a good definition is valid, and the built-in orders too', () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, BASE);
    const ok = cli('pipeline', 'validate', file);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /good\.yaml: valid — pipeline 'clicks', 1 transform\(s\), 1 sink\(s\), 1 table\(s\)/,
    );
    const orders = cli('pipeline', 'validate', 'orders');
    assert.equal(orders.status, 0, orders.stderr);
  });

  it('exits 2 with the file, line and what to change for a bad one', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, BASE.replace('SELECT user_id, page,', 'SELECT user_id, pgae,'));
    const bad = cli('pipeline', 'validate', file);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /error \[PIPELINE_INVALID\]: .*\n {2}.*bad\.yaml:15:10: transforms\[0\]\.sql: /);
  });

  it('explains the plan', () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, BASE);
    const out = cli('pipeline', 'explain', file);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /source {3}topic 'clicks'/);
    assert.match(out.stdout, /sink views: delta_append of views → table 'page_views'/);
    assert.match(out.stdout, /rows: user_id VARCHAR, page VARCHAR, viewed_at TIMESTAMP WITH TIME ZONE/);
  });
});
