/**
 * The dependency graph of a project: a model depends on the models it `ref()`s, and on
 * the models its `relationships` expectations check against (they must be built
 * first). `source()` tables are leaves. An unknown model, a source named like a model,
 * and a cycle are MODEL_INVALID with the file and line of each reference involved.
 *
 * Selection follows dbt: `name`, `name+` (with its descendants), `+name` (with its
 * ancestors), `+name+`; several selectors (a list, or one text separated by spaces or
 * commas) select their union. Models always come out in dependency order, ties broken
 * by name, so a run's order is the same every time.
 */
import { TributaryError } from '../../core/errors.ts';
import type { Model, Project } from './project.ts';
import { invalid, type Position, where } from './yaml-doc.ts';

export interface Edge {
  /** The model depended on (kind 'ref') or the table read (kind 'source'). */
  kind: 'ref' | 'source';
  name: string;
  at: Position;
  /** A `relationships` expectation, not the SQL, made this edge. */
  viaExpectation?: string;
}

export interface ModelGraph {
  project: Project;
  /** Every model, parents before children. */
  order: string[];
  /** Per model: the models and source tables it depends on (each once). */
  parents: Map<string, Edge[]>;
  /** Per model: the models that depend on it. */
  children: Map<string, string[]>;
  /** Every source table read by some model (SQL or expectation), sorted. */
  sources: string[];
}

/** Close names, for "did you mean" in messages. */
function suggest(name: string, names: Iterable<string>): string {
  const close = [...names].filter((n) => n.includes(name) || name.includes(n) || distance(n, name) <= 2);
  return close.length > 0 ? ` (did you mean ${close.map((c) => `'${c}'`).join(' or ')}?)` : '';
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function edgesOf(model: Model): Edge[] {
  const out: Edge[] = [];
  const seen = new Set<string>();
  const add = (e: Edge) => {
    const k = `${e.kind}:${e.name}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(e);
  };
  for (const r of model.refs) add({ kind: r.kind, name: r.name, at: r.at });
  for (const x of model.config.expectations) {
    if (x.check.type === 'relationships') {
      add({ kind: x.check.to.kind, name: x.check.to.name, at: x.at, viaExpectation: x.name });
    }
  }
  return out;
}

/** Builds and checks the graph; MODEL_INVALID lists unknown references and a cycle. */
export function buildGraph(project: Project): ModelGraph {
  const problems: Array<{ at: Position; message: string }> = [];
  const parents = new Map<string, Edge[]>();
  const children = new Map<string, string[]>();
  const sources = new Set<string>();
  for (const name of project.models.keys()) children.set(name, []);
  for (const [name, model] of project.models) {
    const edges = edgesOf(model);
    for (const e of edges) {
      const how = e.viaExpectation ? `expectation '${e.viaExpectation}'` : `${e.kind}('${e.name}')`;
      if (e.kind === 'ref' && !project.models.has(e.name)) {
        problems.push({
          at: e.at,
          message: `${how}: there is no model '${e.name}'${suggest(e.name, project.models.keys())}; models are the files models/<name>.sql`,
        });
      } else if (e.kind === 'ref' && e.name === name) {
        problems.push({ at: e.at, message: `${how}: model '${name}' refers to itself` });
      } else if (e.kind === 'source' && project.models.has(e.name)) {
        problems.push({
          at: e.at,
          message: `${how}: '${e.name}' is a model of this project (its table is built here); write ref('${e.name}')`,
        });
      } else if (e.kind === 'source') {
        sources.add(e.name);
      } else {
        children.get(e.name)!.push(name);
      }
    }
    parents.set(name, edges);
  }
  for (const s of project.sources.values()) {
    for (const x of s.expectations) {
      if (
        x.check.type === 'relationships' &&
        x.check.to.kind === 'ref' &&
        !project.models.has(x.check.to.name)
      ) {
        problems.push({
          at: x.at,
          message: `expectation '${x.name}': there is no model '${x.check.to.name}'${suggest(x.check.to.name, project.models.keys())}`,
        });
      }
    }
  }
  if (problems.length > 0) invalid(problems, `the models project`);
  const cycle = findCycle(project, parents);
  if (cycle) {
    const path = [...cycle.map((e) => e.from), cycle[0].from].join(' → ');
    const lines = cycle.map(
      (e) =>
        `${where(e.edge.at)}: ${e.from} depends on ${e.edge.name}${e.edge.viaExpectation ? ` (expectation '${e.edge.viaExpectation}')` : ''}`,
    );
    throw new TributaryError(
      'MODEL_INVALID',
      `the models form a cycle, ${path}; a model cannot depend on itself through others — remove one of these references:\n  ${lines.join('\n  ')}`,
      { file: cycle[0].edge.at.file, line: cycle[0].edge.at.line, cycle: cycle.map((e) => e.from) },
    );
  }
  return { project, order: topoOrder(project, parents), parents, children, sources: [...sources].sort() };
}

const modelEdges = (edges: Edge[] | undefined) => (edges ?? []).filter((e) => e.kind === 'ref');

function findCycle(
  project: Project,
  parents: Map<string, Edge[]>,
): Array<{ from: string; edge: Edge }> | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: Array<{ from: string; edge: Edge }> = [];
  const visit = (name: string): Array<{ from: string; edge: Edge }> | undefined => {
    state.set(name, 'open');
    for (const edge of modelEdges(parents.get(name))) {
      const s = state.get(edge.name);
      if (s === 'done') continue;
      stack.push({ from: name, edge });
      if (s === 'open') {
        const startAt = stack.findIndex((x) => x.from === edge.name);
        return stack.slice(startAt);
      }
      const found = visit(edge.name);
      if (found) return found;
      stack.pop();
    }
    state.set(name, 'done');
    return undefined;
  };
  for (const name of [...project.models.keys()].sort()) {
    if (state.has(name)) continue;
    const found = visit(name);
    if (found) return found;
  }
  return undefined;
}

/** Kahn's algorithm, ready models taken by name. */
function topoOrder(project: Project, parents: Map<string, Edge[]>): string[] {
  const pending = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const name of project.models.keys()) {
    const deps = new Set(modelEdges(parents.get(name)).map((e) => e.name));
    pending.set(name, deps.size);
    for (const d of deps) dependants.set(d, [...(dependants.get(d) ?? []), name]);
  }
  const ready = [...pending].filter(([, n]) => n === 0).map(([m]) => m);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort();
    const next = ready.shift()!;
    order.push(next);
    for (const d of dependants.get(next) ?? []) {
      const left = pending.get(d)! - 1;
      pending.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  return order;
}

function closure(start: string, next: (n: string) => string[]): Set<string> {
  const out = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    for (const n of next(todo.pop()!)) {
      if (!out.has(n)) {
        out.add(n);
        todo.push(n);
      }
    }
  }
  return out;
}

/** Ancestors (models only) of `name`. */
export function ancestors(graph: ModelGraph, name: string): Set<string> {
  return closure(name, (n) => modelEdges(graph.parents.get(n)).map((e) => e.name));
}

/** Descendants of `name`. */
export function descendants(graph: ModelGraph, name: string): Set<string> {
  return closure(name, (n) => graph.children.get(n) ?? []);
}

/** The selected models in dependency order; all of them without selectors. */
export function selectModels(graph: ModelGraph, selectors: string | string[] | undefined): string[] {
  const list = (Array.isArray(selectors) ? selectors : selectors === undefined ? [] : [selectors])
    .flatMap((s) => s.split(/[\s,]+/))
    .filter((s) => s !== '');
  if (list.length === 0) return [...graph.order];
  const chosen = new Set<string>();
  for (const sel of list) {
    const m = /^(\+?)([A-Za-z_][A-Za-z0-9_]*)(\+?)$/.exec(sel);
    if (!m) {
      throw new TributaryError(
        'MODEL_INVALID',
        `'${sel}' is not a selector: write a model name, name+ (with the models that depend on it), +name (with the models it depends on) or +name+`,
        { selector: sel },
      );
    }
    const name = m[2];
    if (!graph.project.models.has(name)) {
      throw new TributaryError(
        'MODEL_INVALID',
        `--select ${sel}: there is no model '${name}'${suggest(name, graph.project.models.keys())}; the models are ${graph.order.join(', ')}`,
        { selector: sel },
      );
    }
    chosen.add(name);
    if (m[1]) for (const a of ancestors(graph, name)) chosen.add(a);
    if (m[3]) for (const d of descendants(graph, name)) chosen.add(d);
  }
  return graph.order.filter((n) => chosen.has(n));
}

function describe(model: Model): string {
  const c = model.config;
  return c.materialized === 'incremental' ? `incremental by ${c.partitionBy.join(', ')}` : 'table';
}

/** The graph as text: models in the order they run, each with what it depends on. */
export function formatGraph(graph: ModelGraph, only?: string[]): string {
  const names = only ?? graph.order;
  const width = Math.max(...names.map((n) => n.length), 4);
  const kinds = names.map((n) => describe(graph.project.models.get(n)!));
  const kindWidth = Math.max(...kinds.map((k) => k.length));
  const lines = names.map((name, i) => {
    const model = graph.project.models.get(name)!;
    const deps = (graph.parents.get(name) ?? []).map((e) =>
      e.kind === 'source' ? `source ${e.name}` : e.viaExpectation ? `${e.name} (expectation)` : e.name,
    );
    const exp = model.config.export ? `  (export: postgres ${model.config.export.postgres})` : '';
    return `${name.padEnd(width)}  ${kinds[i].padEnd(kindWidth)}  <- ${deps.length > 0 ? deps.join(', ') : '(nothing)'}${exp}`;
  });
  const sources = graph.sources.filter((s) =>
    names.some((n) => graph.parents.get(n)?.some((e) => e.name === s)),
  );
  const head = `${names.length} model${names.length === 1 ? '' : 's'} in run order; sources: ${sources.join(', ') || 'none'}`;
  return [head, ...lines].join('\n');
}

/** The graph in Graphviz dot. */
export function formatDot(graph: ModelGraph, only?: string[]): string {
  const names = new Set(only ?? graph.order);
  const q = (s: string) => JSON.stringify(s);
  const lines = ['digraph models {', '  rankdir=LR;', '  node [shape=box];'];
  const sources = new Set<string>();
  for (const name of graph.order) {
    if (!names.has(name)) continue;
    const model = graph.project.models.get(name)!;
    const exp = model.config.export ? `\n→ postgres ${model.config.export.postgres}` : '';
    lines.push(`  ${q(name)} [label=${q(`${name}\n${describe(model)}${exp}`)}];`);
    for (const e of graph.parents.get(name) ?? []) {
      const from = e.kind === 'source' ? `source:${e.name}` : e.name;
      if (e.kind === 'source') sources.add(e.name);
      lines.push(`  ${q(from)} -> ${q(name)}${e.viaExpectation ? ' [style=dashed]' : ''};`);
    }
  }
  for (const s of [...sources].sort()) lines.push(`  ${q(`source:${s}`)} [shape=cylinder, label=${q(s)}];`);
  lines.push('}');
  return lines.join('\n');
}
