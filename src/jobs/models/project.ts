/**
 * A models project: a folder holding `models/` (one query per `<name>.sql`, in
 * subfolders too; the file name is the model's name) and, optionally, `sources.yml`
 * (expectations of the source tables). A model's config is YAML in a comment at the
 * very top of its file:
 *
 *   /*---
 *   materialized: incremental
 *   partition_by: event_date
 *   ---*\/
 *   SELECT ... FROM source('bronze_user_events')
 *
 * Every problem in any file is collected and reported at once, each as
 * `file:line:column` (MODEL_INVALID); the dependency graph is checked by graph.ts.
 */
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { TributaryError } from '../../core/errors.ts';
import { type Expectation, type ModelConfig, parseModelConfig, parseSources } from './config.ts';
import { lineCol, type Reference, scanModelSql } from './references.ts';
import { formatPath, invalid, type Position, parseYaml, type YamlDoc } from './yaml-doc.ts';

export interface Model {
  name: string;
  /** The file, as given (relative to the working directory when the project was). */
  file: string;
  config: ModelConfig;
  /** The query, references unreplaced, without the config comment and a final semicolon. */
  query: string;
  refs: Reference[];
}

export interface SourceSpec {
  name: string;
  description?: string;
  expectations: Expectation[];
  at: Position;
}

export interface Project {
  dir: string;
  models: Map<string, Model>;
  /** Sources described in sources.yml (any table may be read with source() without one). */
  sources: Map<string, SourceSpec>;
}

/** The package's `projects/` folder (this file is src/jobs/models/ or dist/jobs/models/). */
export const BUILTIN_PROJECTS_DIR = join(import.meta.dirname, '..', '..', '..', 'projects');

/**
 * A project folder from what a user typed: a folder that exists, else a project that
 * ships with Tributary (`clickstream`), else MODEL_INVALID.
 */
export function resolveProjectDir(arg: string): string {
  if (existsSync(join(arg, 'models'))) return arg;
  const builtin = join(BUILTIN_PROJECTS_DIR, arg);
  if (/^[A-Za-z0-9_-]+$/.test(arg) && existsSync(join(builtin, 'models'))) return builtin;
  const shipped = shippedProjects().join(', ') || 'none';
  throw new TributaryError(
    'MODEL_INVALID',
    `no models project at '${arg}' (a project is a folder holding models/<name>.sql); give one with --project DIR, or the name of a shipped project (${shipped})`,
    { project: arg },
  );
}

function shippedProjects(): string[] {
  try {
    return readdirSync(BUILTIN_PROJECTS_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

const FRONT_START = /^\s*\/\*---[ \t]*\r?\n/;
const FRONT_END = /^[ \t]*---\*\/[ \t]*$/m;

interface ParsedFile {
  doc?: YamlDoc;
  bodyOffset: number;
  problems: Array<{ at: Position; message: string }>;
}

/** Splits the config comment from the query. */
function splitFrontMatter(file: string, text: string): ParsedFile {
  const start = FRONT_START.exec(text);
  if (!start) {
    if (/^\s*\/\*---/.test(text)) {
      const at = { file, ...lineCol(text, text.indexOf('/*---')) };
      return { bodyOffset: 0, problems: [{ at, message: "the config comment '/*---' must end its line" }] };
    }
    return { bodyOffset: 0, problems: [] };
  }
  const from = start.index + start[0].length;
  const rest = text.slice(from);
  const end = FRONT_END.exec(rest);
  if (!end) {
    const at = { file, ...lineCol(text, text.indexOf('/*---')) };
    return {
      bodyOffset: 0,
      problems: [{ at, message: "the config comment '/*---' has no closing line '---*/'" }],
    };
  }
  const yamlText = rest.slice(0, end.index);
  const firstLine = lineCol(text, from).line;
  const doc = parseYaml(yamlText, file, firstLine, `the config of ${file}`);
  let bodyOffset = from + end.index + end[0].length;
  if (text[bodyOffset] === '\r') bodyOffset++;
  if (text[bodyOffset] === '\n') bodyOffset++;
  return { doc, bodyOffset, problems: [] };
}

async function sqlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sqlFiles(p)));
    else if (e.isFile() && e.name.endsWith('.sql')) out.push(p);
  }
  return out.sort();
}

/** Reads and checks a model file's text (exported for tests and tools that hold SQL in memory). */
export function parseModel(
  file: string,
  text: string,
): { model?: Model; problems: Array<{ at: Position; message: string }> } {
  const name = basename(file, '.sql');
  const problems: Array<{ at: Position; message: string }> = [];
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    problems.push({
      at: { file, line: 1, col: 1 },
      message: `'${name}' is not a model name: name the file with letters, digits and _ (it names the table)`,
    });
  }
  let front: ParsedFile;
  try {
    front = splitFrontMatter(file, text);
  } catch (err) {
    // YAML syntax errors come with their positions; keep collecting the other files'.
    const details = (err as TributaryError).details ?? {};
    problems.push({
      at: { file, line: Number(details.line ?? 1), col: Number(details.col ?? 1) },
      message: (err as Error).message.split('\n').slice(1).join(' ').trim() || (err as Error).message,
    });
    return { problems };
  }
  problems.push(...front.problems);
  const { config, problems: configProblems } = parseModelConfig(front.doc);
  for (const p of configProblems) {
    const path = formatPath(p.path);
    problems.push({
      at: front.doc!.locate(p.path, p.atKey),
      message: path ? `${path}: ${p.message}` : p.message,
    });
  }
  const scanned = scanModelSql(file, text, front.bodyOffset);
  problems.push(...scanned.problems);
  if (problems.length > 0) return { problems };
  return { model: { name, file, config, query: scanned.query, refs: scanned.refs }, problems };
}

/** Loads `dir` (its models/ and sources.yml); MODEL_INVALID lists every problem found. */
export async function loadProject(dir: string): Promise<Project> {
  const root = resolve(dir);
  const modelsDir = join(root, 'models');
  if (!existsSync(modelsDir)) {
    throw new TributaryError(
      'MODEL_INVALID',
      `no models/ folder in '${dir}': a project is a folder holding models/<name>.sql (one query per file); give it with --project DIR`,
      { project: dir },
    );
  }
  const display = (p: string) => {
    const rel = relative(process.cwd(), p);
    return rel.startsWith('..') ? p : rel;
  };
  const problems: Array<{ at: Position; message: string }> = [];
  const models = new Map<string, Model>();
  for (const path of await sqlFiles(modelsDir)) {
    const file = display(path);
    const parsed = parseModel(file, await fs.readFile(path, 'utf8'));
    problems.push(...parsed.problems);
    const m = parsed.model;
    if (!m) continue;
    const other = models.get(m.name);
    if (other) {
      problems.push({
        at: { file, line: 1, col: 1 },
        message: `a second model named '${m.name}' (the first is ${other.file}); model names are file names and must be unique`,
      });
      continue;
    }
    models.set(m.name, m);
  }
  const sources = new Map<string, SourceSpec>();
  for (const name of ['sources.yml', 'sources.yaml']) {
    const path = join(root, name);
    if (!existsSync(path)) continue;
    const file = display(path);
    let doc: YamlDoc;
    try {
      doc = parseYaml(await fs.readFile(path, 'utf8'), file, 1, file);
    } catch (err) {
      const d = (err as TributaryError).details ?? {};
      problems.push({
        at: { file, line: Number(d.line ?? 1), col: Number(d.col ?? 1) },
        message: (err as Error).message.split('\n').slice(1).join(' ').trim(),
      });
      continue;
    }
    const parsed = parseSources(doc);
    for (const p of parsed.problems) {
      problems.push({ at: doc.locate(p.path, p.atKey), message: `${formatPath(p.path)}: ${p.message}` });
    }
    for (const [n, s] of parsed.sources) sources.set(n, { name: n, ...s });
  }
  if (models.size === 0 && problems.length === 0) {
    problems.push({
      at: { file: display(modelsDir), line: 1, col: 1 },
      message: 'the folder has no models: add one query per models/<name>.sql',
    });
  }
  if (problems.length > 0) invalid(problems, `the models project ${display(root)}`);
  return { dir: root, models, sources };
}
