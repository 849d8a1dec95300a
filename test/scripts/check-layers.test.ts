/**
 * The layer check of `npm run lint` (scripts/check-layers.ts), run as lint runs it: on a
 * small tree with one allowed and one forbidden import, and on the real src/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { checkLayers, findImports } from '../../scripts/check-layers.ts';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'check-layers.ts');

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A project root whose src/ holds `files` (path → text). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tributary-layers-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BASE = {
  'src/core/errors.ts': 'export class TributaryError extends Error {}\n',
  'src/quality/contract.ts':
    "import { TributaryError } from '../core/errors.ts';\nexport const c = TributaryError;\n",
  // Allowed: the runtime imports core.
  'src/stream/ok.ts':
    "import { TributaryError } from '../core/errors.ts';\nexport const e = TributaryError;\n",
};

test('a forbidden import fails the check, named with its line; an allowed one passes', () => {
  const root = tree({
    ...BASE,
    'src/stream/decode.ts': [
      '/** Decodes. */',
      "import { TributaryError } from '../core/errors.ts';",
      "import { c } from '../quality/contract.ts';",
      'export const d = [c, TributaryError];',
    ].join('\n'),
  });
  const r = run(root);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines, [
    "src/stream/decode.ts:3: 'stream' may not import 'quality' (../quality/contract.ts); stream may import: core, storage, log, table",
    'layers: 1 problem(s); the layers are in docs/architecture.md',
  ]);
  assert.equal(r.stdout, '');

  rmSync(join(root, 'src/stream/decode.ts'));
  const ok = run(root);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^layers: OK \(3 files, 2 imports of our own modules, 0 allowed for now\)\n$/);
});

test('every form of import counts: type, re-export, side effect, import() in code and in types', () => {
  const forms = [
    "import type { c } from '../quality/contract.ts';",
    "export { c } from '../quality/contract.ts';",
    "import '../quality/contract.ts';",
    "const m = await import('../quality/contract.ts');",
    "let x: import('../quality/contract.ts').C;",
  ];
  for (const form of forms) {
    const root = tree({ ...BASE, 'src/core/leak.ts': `// core\n${form}\n` });
    const r = run(root);
    assert.equal(r.status, 1, form);
    assert.match(
      r.stderr,
      /^src\/core\/leak\.ts:2: 'core' may not import 'quality' \(\.\.\/quality\/contract\.ts\); core may import: nothing of ours\n/,
      form,
    );
  }
});

test('imports quoted in comments, strings, templates and regular expressions are not imports', () => {
  const text = [
    "// import { c } from '../quality/contract.ts';",
    "/* export * from '../quality/contract.ts' */",
    'const sql = "SELECT * FROM \'../quality/contract.ts\'";',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a template literal, to scan
    "const re = /['\"]/g; const t = `from '../x.ts' ${sql.replace(re, '')} import('../y.ts')`;",
    "const re2 = /import '.\\/q.ts'/; const half = re2.source.length / 2;",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a template literal, to scan
    "const n = { a: `${`${'}'}`}` }; const q = 1 / 2 / 3;",
    "import { z } from './z.ts';",
  ].join('\n');
  assert.deepEqual(findImports(text), [{ specifier: './z.ts', line: 7 }]);
  assert.deepEqual(findImports('const m = await import(name);'), [{ specifier: null, line: 1 }]);
  assert.deepEqual(findImports("x.import('./a.ts'); import.meta.url;"), []);
});

test('a file directly under src/ or in a folder missing from the table is an error', () => {
  const root = tree({ ...BASE, 'src/index.ts': 'export {};\n', 'src/extras/x.ts': 'export {};\n' });
  const r = run(root);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^src\/extras\/x\.ts: folder 'extras' is not a layer; add it to LAYERS in scripts\/check-layers\.ts/m,
  );
  assert.match(r.stderr, /^src\/index\.ts: a file directly under src\/ belongs to no layer/m);
});

test('an allowed-for-now import passes only while it occurs', () => {
  const root = tree({
    ...BASE,
    'src/stream/decode.ts': "import { c } from '../quality/contract.ts';\nexport { c };\n",
  });
  const entry = { file: 'src/stream/decode.ts', imports: 'src/quality/contract.ts' };
  const report = checkLayers(root, [entry]);
  assert.deepEqual(report.problems, []);
  assert.equal(report.allowedForNow, 1);

  writeFileSync(join(root, 'src/stream/decode.ts'), 'export const c = 1;\n');
  assert.deepEqual(checkLayers(root, [entry]).problems, [
    'scripts/check-layers.ts: ALLOWED_FOR_NOW lists src/stream/decode.ts → src/quality/contract.ts, which no longer occurs; remove the entry',
  ]);
});

test("the project's own src/ keeps its layers", () => {
  const r = run();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^layers: OK \(\d+ files, \d+ imports of our own modules, \d+ allowed for now\)\n$/);
});
