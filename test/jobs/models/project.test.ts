/**
 * Loading a models project and its graph: what a user gets wrong is reported with the
 * file, line and column where it was written (an unknown ref, a cycle, a config key, a
 * YAML error, a second statement), and selection follows dbt's syntax.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isTributaryError } from '../../../src/core/errors.ts';
import { buildGraph, formatDot, formatGraph, selectModels } from '../../../src/jobs/models/graph.ts';
import { loadProject, resolveProjectDir } from '../../../src/jobs/models/project.ts';
import { tempDir, writeProject } from './helpers.ts';

const tmp = tempDir('models-project');
after(() => tmp.cleanup());
let n = 0;

async function load(files: Record<string, string>) {
  const dir = writeProject(join(tmp.dir, `p${n++}`), files);
  return { dir, project: await loadProject(dir) };
}

/** The MODEL_INVALID error of loading (and graphing) `files`. */
async function problem(files: Record<string, string>): Promise<{ message: string; dir: string }> {
  const dir = writeProject(join(tmp.dir, `p${n++}`), files);
  try {
    buildGraph(await loadProject(dir));
  } catch (err) {
    assert.ok(isTributaryError(err, 'MODEL_INVALID'), `MODEL_INVALID, got ${err}`);
    return { message: err.message.replaceAll(dir, '<dir>'), dir };
  }
  assert.fail('the project loaded without a problem');
}

describe('models project: errors point at file:line:column', () => {
  test('an unknown ref() names the file, line and column of the reference, and suggests close names', async () => {
    const { message } = await problem({
      'models/orders.sql': 'SELECT 1 AS id',
      'models/report.sql': "SELECT *\nFROM ref('orders') o\n  JOIN ref('order') p USING (id)\n",
    });
    assert.match(
      message,
      /<dir>\/models\/report\.sql:3:8: ref\('order'\): there is no model 'order' \(did you mean 'orders'\?\)/,
    );
    assert.doesNotMatch(message, /report\.sql:2/, 'the known reference is not reported');
  });

  test('a cycle lists every reference on it with file:line', async () => {
    const { message } = await problem({
      'models/a.sql': "SELECT * FROM ref('c')",
      'models/b.sql': "-- b reads a\nSELECT * FROM ref('a')",
      'models/c.sql': "SELECT *\n\nFROM ref('b')",
      'models/d.sql': "SELECT * FROM ref('a')",
    });
    assert.match(message, /cycle, a → c → b → a/);
    assert.match(message, /<dir>\/models\/a\.sql:1:15: a depends on c/);
    assert.match(message, /<dir>\/models\/c\.sql:3:6: c depends on b/);
    assert.match(message, /<dir>\/models\/b\.sql:2:15: b depends on a/);
    assert.doesNotMatch(message, /d\.sql/, 'a model outside the cycle is not blamed');
  });

  test('a relationships expectation orders the models too; a cycle through it is reported at the expectation', async () => {
    const { message } = await problem({
      'models/a.sql':
        "/*---\nexpectations:\n  - relationships: { column: id, to: ref('b'), field: id }\n---*/\nSELECT 1 AS id",
      'models/b.sql': "SELECT * FROM ref('a')",
    });
    assert.match(
      message,
      /<dir>\/models\/a\.sql:3:5: a depends on b \(expectation 'relationships\(id → b\.id\)'\)/,
    );
  });

  test('config problems are reported where they are in the front matter', async () => {
    const { message } = await problem({
      'models/x.sql': [
        '/*---',
        'materialized: incrementl',
        'partition_by: day',
        'expectations:',
        '  - not_null: [id]',
        '  - uniqe: [id]',
        '  - range: { column: v }',
        '    severity: fatal',
        'exprot: { postgres: gold.x, key: [id] }',
        '---*/',
        'SELECT 1 AS id, 2 AS v, current_date AS day',
      ].join('\n'),
    });
    assert.match(message, /x\.sql:2:15: materialized: expected table or incremental, got "incrementl"/);
    assert.match(message, /x\.sql:6:5: expectations\[1\]\.uniqe: unknown expectation 'uniqe'/);
    assert.match(message, /x\.sql:7:12: expectations\[2\]\.range: give min, max or both/);
    assert.match(message, /x\.sql:8:15: expectations\[2\]\.severity: expected warn or error, got "fatal"/);
    assert.match(message, /x\.sql:9:1: exprot: unknown key 'exprot'/);
  });

  test('YAML syntax errors, an unclosed config, two statements, source() of a model', async () => {
    const yaml = await problem({ 'models/y.sql': '/*---\nmaterialized: [table\n---*/\nSELECT 1' });
    assert.match(yaml.message, /y\.sql:3:\d+: /);
    const open = await problem({ 'models/o.sql': '/*---\nmaterialized: table\nSELECT 1' });
    assert.match(open.message, /o\.sql:1:1: the config comment '\/\*---' has no closing line '---\*\/'/);
    const two = await problem({ 'models/t.sql': 'SELECT 1;\nSELECT 2' });
    assert.match(two.message, /t\.sql:1:9: a model is one query/);
    const notQuery = await problem({ 'models/u.sql': 'DELETE FROM x' });
    assert.match(
      notQuery.message,
      /u\.sql:1:1: a model is one query \(SELECT or WITH \.\.\.\), not 'DELETE'/,
    );
    const src = await problem({
      'models/m.sql': 'SELECT 1 AS id',
      'models/r.sql': "SELECT * FROM source('m')",
    });
    assert.match(
      src.message,
      /r\.sql:1:15: source\('m'\): 'm' is a model of this project .* write ref\('m'\)/,
    );
    const badRef = await problem({ 'models/b.sql': 'SELECT * FROM ref(orders)' });
    assert.match(badRef.message, /b\.sql:1:15: ref\(\) takes one quoted name/);
  });

  test('a ref( inside a string or a comment is text; a trailing semicolon is fine', async () => {
    const { project } = await load({
      'models/a.sql': "-- ref('nothing')\nSELECT 'ref(''x'')' AS t /* source('y') */;\n",
    });
    assert.deepEqual(project.models.get('a')!.refs, []);
    assert.equal(project.models.get('a')!.query.trim().endsWith(';'), false);
  });

  test('a folder without models/ and an unknown project name say what a project is', async () => {
    assert.throws(
      () => resolveProjectDir(join(tmp.dir, 'nothing-here')),
      (err) => isTributaryError(err, 'MODEL_INVALID') && /clickstream/.test(err.message),
    );
    assert.match(resolveProjectDir('clickstream'), /projects\/clickstream$/);
  });
});

describe('models graph and selection', () => {
  const files = {
    'models/staging/a.sql': "SELECT * FROM source('raw')",
    'models/b.sql': "/*---\nmaterialized: incremental\npartition_by: day\n---*/\nSELECT * FROM ref('a')",
    'models/c.sql':
      "/*---\nexport: { postgres: gold.c, key: [day] }\n---*/\nSELECT * FROM ref('b') JOIN ref('a') USING (day)",
    'models/d.sql': "SELECT * FROM source('raw') UNION ALL SELECT * FROM source('other')",
  };

  test('selectors: name, name+, +name, +name+, lists; dependency order', async () => {
    const { project } = await load(files);
    const g = buildGraph(project);
    assert.deepEqual(g.order, ['a', 'b', 'c', 'd']);
    assert.deepEqual(selectModels(g, undefined), ['a', 'b', 'c', 'd']);
    assert.deepEqual(selectModels(g, 'b'), ['b']);
    assert.deepEqual(selectModels(g, 'b+'), ['b', 'c']);
    assert.deepEqual(selectModels(g, '+b'), ['a', 'b']);
    assert.deepEqual(selectModels(g, '+c'), ['a', 'b', 'c']);
    assert.deepEqual(selectModels(g, 'a+'), ['a', 'b', 'c']);
    assert.deepEqual(selectModels(g, ['d', 'b']), ['b', 'd']);
    assert.deepEqual(selectModels(g, 'd,+b'), ['a', 'b', 'd']);
    assert.throws(
      () => selectModels(g, 'bb+'),
      (err) => isTributaryError(err, 'MODEL_INVALID') && /did you mean 'b'/.test(err.message),
    );
    assert.throws(
      () => selectModels(g, '@b'),
      (err) => isTributaryError(err, 'MODEL_INVALID'),
    );
  });

  test('graph as text and as dot', async () => {
    const { project } = await load(files);
    const g = buildGraph(project);
    assert.equal(
      formatGraph(g),
      [
        '4 models in run order; sources: other, raw',
        'a     table               <- source raw',
        'b     incremental by day  <- a',
        'c     table               <- b, a  (export: postgres gold.c)',
        'd     table               <- source raw, source other',
      ].join('\n'),
    );
    const dot = formatDot(g, selectModels(g, '+b'));
    assert.match(dot, /"a" -> "b";/);
    assert.match(dot, /"source:raw" -> "a";/);
    assert.doesNotMatch(dot, /"c"/);
  });
});
