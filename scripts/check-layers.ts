/**
 * Checks the layers of src/ (docs/architecture.md): every file belongs to the layer of
 * its top folder (src/<folder>/...), and a layer imports only the layers its row of
 * LAYERS names, so data and imports flow one way (a lower layer never reaches a higher
 * one). Part of `npm run lint`.
 *
 *   node scripts/check-layers.ts          checks this repository's src/
 *   node scripts/check-layers.ts ROOT     checks ROOT/src/ (ALLOWED_FOR_NOW is not applied)
 *
 * Prints one line per violation and exits 1, or prints a one-line summary. Counted as
 * imports: `import … from`, `import '…'`, `export … from`, `import type`, and `import('…')`
 * (also in type positions), each with a relative specifier; packages and node: modules
 * are not ours. Comments, strings, template literals and regular expressions are
 * skipped by a small scanner, so an import quoted in a comment or a SQL string is not
 * taken for one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * Each layer and the layers it may import (a layer may always import itself). A folder
 * missing here is an error, so a new folder is placed in the order on purpose.
 */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  core: [],
  storage: ['core'],
  table: ['core', 'storage'],
  log: ['core', 'storage'],
  quality: ['core'],
  query: ['core', 'table'],
  stream: ['core', 'storage', 'log', 'table'],
  // A decoder checks records against a contract (quality); a Delta table is read as a
  // stream (table).
  connectors: ['core', 'storage', 'log', 'table', 'stream', 'quality'],
  // Definitions compile into runtime parts from every layer below.
  pipeline: ['core', 'storage', 'log', 'table', 'stream', 'quality', 'query', 'connectors'],
  jobs: ['core', 'storage', 'log', 'table', 'stream', 'quality', 'query', 'connectors', 'pipeline'],
  scenarios: [
    'core',
    'storage',
    'log',
    'table',
    'stream',
    'quality',
    'query',
    'connectors',
    'pipeline',
    'jobs',
  ],
  server: [
    'core',
    'storage',
    'log',
    'table',
    'stream',
    'quality',
    'query',
    'connectors',
    'pipeline',
    'jobs',
    'scenarios',
  ],
  // The dashboard talks to the server's HTTP API only.
  ui: [],
  cli: [
    'core',
    'storage',
    'log',
    'table',
    'stream',
    'quality',
    'query',
    'connectors',
    'pipeline',
    'jobs',
    'scenarios',
    'server',
    'ui',
  ],
};

export interface AllowedImport {
  /** The importing file, relative to the root: `src/stream/decode.ts`. */
  file: string;
  /** The imported module, relative to the root: `src/quality/contract.ts`. */
  imports: string;
}

/**
 * Known violations that work in progress is removing. Each entry must still occur (the
 * check fails on a stale one), so this list only shrinks: remove an entry with the
 * import, never add one to get past the check.
 */
export const ALLOWED_FOR_NOW: readonly AllowedImport[] = [
  // Empty: add an entry only for a violation being removed by work in progress.
];

export interface ImportSite {
  /** The specifier, or null for an `import()` of a computed value. */
  specifier: string | null;
  line: number;
}

interface Token {
  kind: 'word' | 'punct' | 'string' | 'other';
  text: string;
  start: number;
}

// After these, a `/` starts a regular expression rather than a division.
const REGEX_AFTER_WORD = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

function regexAllowed(prev: Token | undefined): boolean {
  if (prev === undefined) return true;
  if (prev.kind === 'punct') return prev.text !== ')' && prev.text !== ']';
  return prev.kind === 'word' && REGEX_AFTER_WORD.has(prev.text);
}

/** The imports of one TypeScript source text, with their line numbers. */
export function findImports(text: string): ImportSite[] {
  const out: ImportSite[] = [];
  const lineAt = (pos: number): number => {
    let n = 1;
    for (let i = text.indexOf('\n'); i !== -1 && i < pos; i = text.indexOf('\n', i + 1)) n++;
    return n;
  };
  const tokens: Token[] = [];
  // Brace depths at which a template literal's `${ … }` ends, innermost last.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;

  // Scans template text from i up to its closing backtick or a `${`.
  const templateText = (): void => {
    while (i < text.length) {
      const c = text[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        i++;
        return;
      } else if (c === '$' && text[i + 1] === '{') {
        i += 2;
        templates.push(depth++);
        return;
      } else i++;
    }
  };

  const push = (t: Token): void => {
    const prev = tokens.at(-1);
    const prev2 = tokens.at(-2);
    if (prev?.text === '(' && prev2?.kind === 'word' && prev2.text === 'import') {
      // `import(…)`, unless a method named import (`x.import(…)`).
      if (tokens.at(-3)?.text !== '.') {
        out.push({ specifier: t.kind === 'string' ? t.text : null, line: lineAt(prev2.start) });
      }
    } else if (
      t.kind === 'string' &&
      prev?.kind === 'word' &&
      (prev.text === 'from' || prev.text === 'import')
    ) {
      if (prev2?.text !== '.') out.push({ specifier: t.text, line: lineAt(t.start) });
    }
    tokens.push(t);
  };

  while (i < text.length) {
    const c = text[i];
    const start = i;
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === "'" || c === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== c && text[i] !== '\n') {
        if (text[i] === '\\') {
          value += text[i + 1] ?? '';
          i += 2;
        } else value += text[i++];
      }
      i++;
      push({ kind: 'string', text: value, start });
    } else if (c === '`') {
      i++;
      templateText();
      push({ kind: 'other', text: '`', start });
    } else if (c === '/' && regexAllowed(tokens.at(-1))) {
      let inClass = false;
      i++;
      while (i < text.length && text[i] !== '\n') {
        const r = text[i];
        if (r === '\\') i++;
        else if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
        i++;
      }
      i++;
      while (i < text.length && /[a-z]/i.test(text[i])) i++;
      push({ kind: 'other', text: '/regex/', start });
    } else if (/[A-Za-z_$]/.test(c)) {
      while (i < text.length && /[\w$]/.test(text[i])) i++;
      push({ kind: 'word', text: text.slice(start, i), start });
    } else if (/\d/.test(c)) {
      while (i < text.length && /[\w.]/.test(text[i])) i++;
      push({ kind: 'other', text: text.slice(start, i), start });
    } else if (/\s/.test(c)) {
      i++;
    } else {
      i++;
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (templates.at(-1) === depth) {
          templates.pop();
          templateText();
          push({ kind: 'other', text: '`', start });
          continue;
        }
      }
      push({ kind: 'punct', text: c, start });
    }
  }
  return out;
}

export interface LayerReport {
  files: number;
  imports: number;
  allowedForNow: number;
  /** One line per problem, in file order. */
  problems: string[];
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

const toPosix = (p: string): string => p.split(sep).join('/');

/** Checks ROOT/src against LAYERS; `allowed` lists exact (file, module) pairs to let pass. */
export function checkLayers(root: string, allowed: readonly AllowedImport[] = []): LayerReport {
  const src = join(root, 'src');
  const report: LayerReport = { files: 0, imports: 0, allowedForNow: 0, problems: [] };
  const used = new Set<AllowedImport>();
  for (const file of sources(src)) {
    report.files++;
    const name = toPosix(relative(root, file));
    const parts = toPosix(relative(src, file)).split('/');
    const layer = parts.length > 1 ? parts[0] : undefined;
    if (layer === undefined) {
      report.problems.push(
        `${name}: a file directly under src/ belongs to no layer; move it into a layer's folder`,
      );
      continue;
    }
    const may = LAYERS[layer];
    if (may === undefined) {
      report.problems.push(
        `${name}: folder '${layer}' is not a layer; add it to LAYERS in scripts/check-layers.ts and to docs/architecture.md, with what it may import`,
      );
      continue;
    }
    for (const site of findImports(readFileSync(file, 'utf8'))) {
      if (site.specifier === null) {
        report.problems.push(`${name}:${site.line}: an import() of a computed specifier cannot be checked`);
        continue;
      }
      if (!site.specifier.startsWith('./') && !site.specifier.startsWith('../')) continue;
      report.imports++;
      const target = resolve(dirname(file), site.specifier);
      const inSrc = toPosix(relative(src, target)).split('/');
      const targetLayer = inSrc[0] === '..' ? undefined : inSrc.length > 1 ? inSrc[0] : '';
      if (targetLayer === layer) continue;
      if (targetLayer !== undefined && targetLayer !== '' && may.includes(targetLayer)) continue;
      const imported = toPosix(relative(root, target));
      const entry = allowed.find((a) => a.file === name && a.imports === imported);
      if (entry !== undefined) {
        used.add(entry);
        report.allowedForNow++;
        continue;
      }
      const what =
        targetLayer === undefined ? 'a file outside src/' : targetLayer === '' ? 'src/' : `'${targetLayer}'`;
      report.problems.push(
        `${name}:${site.line}: '${layer}' may not import ${what} (${site.specifier}); ${layer} may import: ${may.length > 0 ? may.join(', ') : 'nothing of ours'}`,
      );
    }
  }
  for (const a of allowed) {
    if (!used.has(a)) {
      report.problems.push(
        `scripts/check-layers.ts: ALLOWED_FOR_NOW lists ${a.file} → ${a.imports}, which no longer occurs; remove the entry`,
      );
    }
  }
  return report;
}

const REPO = resolve(import.meta.dirname, '..');

if (import.meta.main) {
  const arg = process.argv[2];
  const root = resolve(arg ?? REPO);
  const report = checkLayers(root, root === REPO ? ALLOWED_FOR_NOW : []);
  for (const p of report.problems) console.error(p);
  if (report.problems.length > 0) {
    console.error(`layers: ${report.problems.length} problem(s); the layers are in docs/architecture.md`);
    process.exit(1);
  }
  console.log(
    `layers: OK (${report.files} files, ${report.imports} imports of our own modules, ${report.allowedForNow} allowed for now)`,
  );
}
