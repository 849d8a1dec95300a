/**
 * A model's configuration (its front matter) and expectations (of a model or of a
 * source table), checked with every problem reported where it was written. The keys
 * and their meaning are documented in docs/models.md.
 */
import { parseDuration } from '../../pipeline/durations.ts';
import type { Path, Position, Problem, YamlDoc } from './yaml-doc.ts';

export type Materialization = 'table' | 'incremental';
export type Severity = 'warn' | 'error';

/** A reference to a model or a source table, as `ref('name')` / `source('name')` spell it. */
export interface TargetRef {
  kind: 'ref' | 'source';
  name: string;
}

export type Check =
  | { type: 'not_null'; columns: string[] }
  | { type: 'unique'; columns: string[] }
  | { type: 'accepted_values'; column: string; values: Array<string | number | boolean> }
  | { type: 'range'; column: string; min?: number | string; max?: number | string }
  | { type: 'row_count'; min?: number; max?: number }
  | { type: 'freshness'; column: string; maxAgeMs: number; maxAge: string }
  | { type: 'relationships'; column: string; to: TargetRef; field: string }
  | { type: 'sql'; predicate: string };

export interface Expectation {
  /** Unique within its model or source: given, or made from the check (`unique(event_id)`). */
  name: string;
  severity: Severity;
  /** Failing rows kept as a sample (default: the run's sample size, 5). */
  sample?: number;
  check: Check;
  at: Position;
}

export interface ExportConfig {
  /** The PostgreSQL table, `schema.name` (default schema `public`). */
  postgres: string;
  /** Its primary key. */
  key: string[];
  at: Position;
}

export interface ModelConfig {
  materialized: Materialization;
  partitionBy: string[];
  description?: string;
  export?: ExportConfig;
  expectations: Expectation[];
}

export const CHECK_TYPES = [
  'not_null',
  'unique',
  'accepted_values',
  'range',
  'row_count',
  'freshness',
  'relationships',
  'sql',
] as const;

const MODEL_KEYS = ['materialized', 'partition_by', 'description', 'export', 'expectations'];
const COMMON_KEYS = ['severity', 'name', 'sample'];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isIdent = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v);

const TARGET_RE = /^\s*(ref|source)\(\s*['"]([^'"]+)['"]\s*\)\s*$/;

export function parseTarget(text: unknown): TargetRef | undefined {
  const m = typeof text === 'string' ? TARGET_RE.exec(text) : null;
  return m ? { kind: m[1] as 'ref' | 'source', name: m[2] } : undefined;
}

class Checker {
  readonly problems: Problem[] = [];
  add(path: Path, message: string, atKey = false): void {
    this.problems.push({ path, message, atKey });
  }
  /** Unknown keys of a map are problems (typos would otherwise be ignored silently). */
  keys(obj: Record<string, unknown>, path: Path, allowed: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k))
        this.add([...path, k], `unknown key '${k}' (expected: ${allowed.join(', ')})`, true);
    }
  }
  /** A column name or a list of them; [] after a problem. */
  columns(v: unknown, path: Path): string[] {
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.length === 0 || !list.every(isIdent)) {
      this.add(path, 'expected a column name or a list of column names, like [event_date, source]');
      return [];
    }
    return list as string[];
  }
  column(v: unknown, path: Path): string {
    if (!isIdent(v)) {
      this.add(path, 'expected a column name (letters, digits, _)');
      return '';
    }
    return v;
  }
  count(v: unknown, path: Path): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      this.add(path, `expected a whole number ≥ 0, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }
  bound(v: unknown, path: Path): number | string | undefined {
    if (v === undefined) return undefined;
    if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string') return v;
    this.add(path, `expected a number, or a date or timestamp as text, got ${JSON.stringify(v)}`);
    return undefined;
  }
}

function checkOf(c: Checker, type: string, spec: unknown, path: Path): Check | undefined {
  const obj = isObject(spec) ? spec : undefined;
  const needObject = (keys: string[]): Record<string, unknown> | undefined => {
    if (!obj) {
      c.add(path, `expected a map with ${keys.join(', ')}`);
      return undefined;
    }
    c.keys(obj, path, keys);
    return obj;
  };
  switch (type) {
    case 'not_null':
    case 'unique':
      return { type, columns: c.columns(spec, path) };
    case 'accepted_values': {
      const o = needObject(['column', 'values']);
      if (!o) return undefined;
      const values = o.values;
      if (
        !Array.isArray(values) ||
        values.length === 0 ||
        !values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))
      ) {
        c.add([...path, 'values'], 'expected a list of values, like [web, mobile]');
        return undefined;
      }
      return { type, column: c.column(o.column, [...path, 'column']), values };
    }
    case 'range': {
      const o = needObject(['column', 'min', 'max']);
      if (!o) return undefined;
      const min = c.bound(o.min, [...path, 'min']);
      const max = c.bound(o.max, [...path, 'max']);
      if (min === undefined && max === undefined) c.add(path, 'give min, max or both');
      return { type, column: c.column(o.column, [...path, 'column']), min, max };
    }
    case 'row_count': {
      const o = needObject(['min', 'max']);
      if (!o) return undefined;
      const min = c.count(o.min, [...path, 'min']);
      const max = c.count(o.max, [...path, 'max']);
      if (min === undefined && max === undefined) c.add(path, 'give min, max or both');
      return { type, min, max };
    }
    case 'freshness': {
      const o = needObject(['column', 'max_age']);
      if (!o) return undefined;
      let maxAgeMs = 0;
      try {
        maxAgeMs = parseDuration(o.max_age);
      } catch (err) {
        c.add([...path, 'max_age'], (err as Error).message);
      }
      return { type, column: c.column(o.column, [...path, 'column']), maxAgeMs, maxAge: String(o.max_age) };
    }
    case 'relationships': {
      const o = needObject(['column', 'to', 'field']);
      if (!o) return undefined;
      const to = parseTarget(o.to);
      if (!to) c.add([...path, 'to'], "expected ref('model') or source('table')");
      return {
        type,
        column: c.column(o.column, [...path, 'column']),
        to: to ?? { kind: 'ref', name: '' },
        field: c.column(o.field, [...path, 'field']),
      };
    }
    case 'sql':
      if (typeof spec !== 'string' || spec.trim() === '') {
        c.add(path, 'expected a SQL predicate that every row must satisfy, like "dau_count >= 0"');
        return undefined;
      }
      return { type, predicate: spec };
  }
  return undefined;
}

/** The default name of an expectation: its type and what it checks. */
function nameOf(check: Check): string {
  switch (check.type) {
    case 'not_null':
    case 'unique':
      return `${check.type}(${check.columns.join(', ')})`;
    case 'accepted_values':
    case 'range':
    case 'freshness':
      return `${check.type}(${check.column})`;
    case 'relationships':
      return `relationships(${check.column} → ${check.to.name}.${check.field})`;
    case 'row_count':
      return 'row_count';
    case 'sql':
      return `sql(${check.predicate.trim().replace(/\s+/g, ' ')})`;
  }
}

/** Expectations at `path` of `doc` (a list of one-key maps plus severity/name/sample). */
export function parseExpectations(
  doc: YamlDoc,
  value: unknown,
  path: Path,
  c = new Checker(),
): Expectation[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    c.add(
      path,
      `expected a list of expectations, each like '- not_null: [event_id]' (types: ${CHECK_TYPES.join(', ')})`,
    );
    return [];
  }
  const out: Expectation[] = [];
  const names = new Set<string>();
  value.forEach((item, i) => {
    const p = [...path, i];
    if (!isObject(item)) {
      c.add(p, `expected a map like '- unique: [event_id]' (types: ${CHECK_TYPES.join(', ')})`);
      return;
    }
    const types = Object.keys(item).filter((k) => !COMMON_KEYS.includes(k));
    if (types.length !== 1 || !(CHECK_TYPES as readonly string[]).includes(types[0])) {
      const unknown = types.find((t) => !(CHECK_TYPES as readonly string[]).includes(t));
      if (unknown !== undefined) {
        c.add(
          [...p, unknown],
          `unknown expectation '${unknown}' (types: ${CHECK_TYPES.join(', ')}; also: ${COMMON_KEYS.join(', ')})`,
          true,
        );
      } else {
        c.add(
          p,
          `expected exactly one expectation type per entry (${CHECK_TYPES.join(', ')}), got ${types.length}`,
        );
      }
      return;
    }
    const type = types[0];
    const check = checkOf(c, type, item[type], [...p, type]);
    let severity: Expectation['severity'] = 'error';
    if (item.severity !== undefined) {
      if (item.severity === 'warn' || item.severity === 'error') severity = item.severity;
      else c.add([...p, 'severity'], `expected warn or error, got ${JSON.stringify(item.severity)}`);
    }
    const sample = c.count(item.sample, [...p, 'sample']);
    if (item.name !== undefined && (typeof item.name !== 'string' || item.name.trim() === '')) {
      c.add([...p, 'name'], 'expected a name (text)');
    }
    if (!check) return;
    const name = typeof item.name === 'string' && item.name.trim() !== '' ? item.name.trim() : nameOf(check);
    if (names.has(name)) {
      c.add(p, `two expectations are named '${name}'; give one a 'name'`);
      return;
    }
    names.add(name);
    out.push({ name, severity, sample, check, at: doc.locate(p) });
  });
  return out;
}

/** A model's config from its front matter (an absent front matter: `{}`). */
export function parseModelConfig(doc: YamlDoc | undefined): { config: ModelConfig; problems: Problem[] } {
  const c = new Checker();
  const raw = doc?.value ?? {};
  const config: ModelConfig = { materialized: 'table', partitionBy: [], expectations: [] };
  if (!isObject(raw)) {
    c.add([], `expected the model's config as a map (${MODEL_KEYS.join(', ')})`);
    return { config, problems: c.problems };
  }
  c.keys(raw, [], MODEL_KEYS);
  if (raw.materialized !== undefined) {
    if (raw.materialized === 'table' || raw.materialized === 'incremental')
      config.materialized = raw.materialized;
    else c.add(['materialized'], `expected table or incremental, got ${JSON.stringify(raw.materialized)}`);
  }
  if (raw.partition_by !== undefined) config.partitionBy = c.columns(raw.partition_by, ['partition_by']);
  if (config.materialized === 'incremental' && raw.partition_by === undefined) {
    c.add(
      ['materialized'],
      'an incremental model needs partition_by: the column whose partitions a run replaces',
    );
  }
  if (raw.description !== undefined) {
    if (typeof raw.description === 'string') config.description = raw.description;
    else c.add(['description'], 'expected text');
  }
  if (raw.export !== undefined) {
    const e = raw.export;
    if (!isObject(e)) {
      c.add(['export'], 'expected a map like { postgres: gold.daily_active_users, key: [event_date] }');
    } else {
      c.keys(e, ['export'], ['postgres', 'key']);
      if (
        typeof e.postgres !== 'string' ||
        !/^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/.test(e.postgres)
      ) {
        c.add(['export', 'postgres'], 'expected a PostgreSQL table name, schema.name (letters, digits, _)');
      }
      const key = c.columns(e.key, ['export', 'key']);
      if (typeof e.postgres === 'string' && key.length > 0 && doc) {
        config.export = { postgres: e.postgres, key, at: doc.locate(['export']) };
      }
    }
  }
  if (doc) config.expectations = parseExpectations(doc, raw.expectations, ['expectations'], c);
  return { config, problems: c.problems };
}

/** `sources.yml`: `sources: { <table>: { description, expectations } }`. */
export function parseSources(doc: YamlDoc): {
  sources: Map<string, { description?: string; expectations: Expectation[]; at: Position }>;
  problems: Problem[];
} {
  const c = new Checker();
  const sources = new Map<string, { description?: string; expectations: Expectation[]; at: Position }>();
  const raw = doc.value ?? {};
  if (!isObject(raw)) {
    c.add([], 'expected a map with the key sources');
    return { sources, problems: c.problems };
  }
  c.keys(raw, [], ['sources']);
  const list = raw.sources ?? {};
  if (!isObject(list)) {
    c.add(['sources'], 'expected a map of table name → { expectations: [...] }');
    return { sources, problems: c.problems };
  }
  for (const [name, spec] of Object.entries(list)) {
    const p = ['sources', name];
    const s = spec ?? {};
    if (!isObject(s)) {
      c.add(p, 'expected a map with description and expectations');
      continue;
    }
    c.keys(s, p, ['description', 'expectations']);
    const expectations = parseExpectations(doc, s.expectations, [...p, 'expectations'], c);
    sources.set(name, {
      description: typeof s.description === 'string' ? s.description : undefined,
      expectations,
      at: doc.locate(p, true),
    });
  }
  return { sources, problems: c.problems };
}
