/**
 * Builds dist/, the JavaScript that the npm package runs: Node.js strips types only
 * outside node_modules, so an installed `tributary` cannot run its .ts sources.
 *
 *   node scripts/build-dist.ts           src/**\/*.ts → dist/**\/*.js
 *   node scripts/build-dist.ts --clean   removes dist/
 *
 * Run by `npm pack` / `npm publish` (the prepack script; postpack removes dist/ again, so
 * a checkout never runs stale JavaScript — bin/tributary.js runs the sources whenever they
 * are there). Each file goes through Node.js's own type stripping, which replaces the
 * types by spaces, so lines and columns in stack traces are those of the sources; the
 * relative `.ts` import specifiers become `.js`. The sources use erasable TypeScript only
 * (tsconfig's erasableSyntaxOnly), which is what stripping supports.
 */
import { existsSync, promises as fs } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');

// `from './x.ts'`, `import './x.ts'`, `import('./x.ts')`: relative specifiers only.
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.\.?\/[^'"\r\n]*?)\.ts\2/g;
// An import whose specifier is not a string literal cannot be rewritten here.
const COMPUTED_IMPORT = /\bimport\s*\(\s*[^'"\s)]/;

async function sources(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** The JavaScript for one source file; throws naming the file for what it cannot build. */
function buildFile(file: string, text: string): string {
  const where = relative(ROOT, file);
  let js: string;
  try {
    js = stripTypeScriptTypes(text, { mode: 'strip' });
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  if (COMPUTED_IMPORT.test(js)) throw new Error(`${where}: an import() of a computed specifier`);
  return js.replace(SPECIFIER, (_all, before: string, quote: string, path: string) => {
    const target = resolve(dirname(file), `${path}.ts`);
    if (!existsSync(target)) throw new Error(`${where}: imports ${path}.ts, which does not exist`);
    return `${before}${quote}${path}.js${quote}`;
  });
}

async function build(): Promise<number> {
  await fs.rm(DIST, { recursive: true, force: true });
  const files = await sources(SRC);
  for (const file of files) {
    const out = join(DIST, relative(SRC, file)).replace(/\.ts$/, '.js');
    await fs.mkdir(dirname(out), { recursive: true });
    await fs.writeFile(out, buildFile(file, await fs.readFile(file, 'utf8')));
  }
  // The dashboard's page (HTML, JavaScript modules, CSS) is served as it is.
  await fs.cp(join(SRC, 'ui'), join(DIST, 'ui'), { recursive: true });
  return files.length;
}

if (process.argv.includes('--clean')) {
  await fs.rm(DIST, { recursive: true, force: true });
} else {
  const n = await build();
  console.error(`dist/: ${n} files built from src/`);
}
