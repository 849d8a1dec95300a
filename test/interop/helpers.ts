/**
 * Shared by the interop tests: running the delta-rs scripts in test/interop/py, the
 * `tributary` command, and normalising rows so values from delta-rs (pyarrow), from our
 * readRows (DuckDB JSON forms) and from runQuery (exact JS values) compare equal.
 * The normal form is the one test/interop/py/normalize.py documents.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataType, StructType } from '../../src/table/schema.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PY_DIR = join(ROOT, 'test', 'interop', 'py');
const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

/**
 * Why the delta-rs tests cannot run here, or undefined when they can. Under CI a
 * missing Python environment is a failure, never a silent skip.
 */
export function pythonSkip(): string | undefined {
  if (existsSync(PYTHON)) return undefined;
  const why = `no Python with deltalake at ${PYTHON}; run the suite with 'npm test' (it provisions .venv)`;
  if (process.env.CI) throw new Error(why);
  return why;
}

function run(
  cmd: string,
  args: string[],
  opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export interface DeltaRsTable {
  version: number;
  schema: StructType;
  partitionColumns: string[];
  configuration: Record<string, string>;
  protocol: { minReaderVersion: number; minWriterVersion: number };
  files: string[];
  rows: Record<string, unknown>[];
}

/** Reads a table with delta-rs (optionally at a version or timestamp). */
export async function deltaRsRead(
  path: string,
  at: { version?: number; timestamp?: string } = {},
): Promise<DeltaRsTable> {
  const args = [join(PY_DIR, 'read_delta.py'), path];
  if (at.version !== undefined) args.push('--version', String(at.version));
  if (at.timestamp !== undefined) args.push('--timestamp', at.timestamp);
  const r = await run(PYTHON, args);
  if (r.code !== 0)
    throw new Error(`delta-rs could not read ${path} (exit ${r.code}): ${r.stdout}${r.stderr}`);
  const table = JSON.parse(r.stdout) as DeltaRsTable;
  // Python sorted by its own JSON text; re-sort the way every other side is sorted.
  return { ...table, rows: sortRows(table.rows) };
}

/** Reads with delta-rs expecting a refusal; returns delta-rs's error text. */
export async function deltaRsReadError(path: string): Promise<string> {
  const r = await run(PYTHON, [join(PY_DIR, 'read_delta.py'), path]);
  if (r.code !== 3)
    throw new Error(`expected delta-rs to refuse ${path}, got exit ${r.code}: ${r.stdout}${r.stderr}`);
  return (JSON.parse(r.stdout) as { error: string }).error;
}

/** Some columns of a table's latest version as read by delta-rs (cheap for large tables). */
export async function deltaRsColumns(
  path: string,
  columns: string[],
): Promise<{ version: number; columns: Record<string, unknown[]> }> {
  const r = await run(PYTHON, [join(PY_DIR, 'read_columns.py'), path, columns.join(',')]);
  if (r.code !== 0)
    throw new Error(`delta-rs could not read ${path} (exit ${r.code}): ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

export interface DeltaRsProgram {
  schema: StructType;
  steps: Array<Record<string, unknown> & { op: string }>;
}

export interface DeltaRsWriteResult {
  steps: Array<{ op: string; version: number; rows: Record<string, unknown>[] }>;
  final: DeltaRsTable;
}

/** Writes a table with delta-rs by running `program` (see write_delta.py). */
export async function deltaRsWrite(path: string, program: DeltaRsProgram): Promise<DeltaRsWriteResult> {
  const r = await run(PYTHON, [join(PY_DIR, 'write_delta.py'), path], { input: JSON.stringify(program) });
  if (r.code !== 0) throw new Error(`delta-rs failed writing ${path} (exit ${r.code}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as DeltaRsWriteResult;
  return {
    steps: out.steps.map((s) => ({ ...s, rows: sortRows(s.rows) })),
    final: { ...out.final, rows: sortRows(out.final.rows) },
  };
}

/** Runs `node bin/tributary.js ...args` with Node 24; returns exit code and output. */
export async function tributary(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // An undefined value removes the variable from the child's environment.
  const env = Object.fromEntries(
    Object.entries({ ...process.env, ...opts.env }).filter(([, v]) => v !== undefined),
  );
  return run(process.execPath, [join(ROOT, 'bin', 'tributary.js'), ...args], { cwd: opts.cwd, env });
}

/** A fresh temporary directory; remove it with `cleanup`. */
export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), `tributary-${prefix}-`));
}

export async function cleanup(dir: string | undefined): Promise<void> {
  if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------
// Normalisation (mirror of test/interop/py/normalize.py)

/** How a reader spells bytes in text: DuckDB's escapes (readRows) or hex (`tributary query` JSON). */
export type BinaryText = 'duckdb' | 'hex';

function hexOf(v: unknown, binary: BinaryText): string {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'string' && binary === 'hex') return v.toLowerCase();
  if (typeof v === 'string') {
    // DuckDB's text form of a BLOB: printable bytes as themselves, others as \xHH.
    const bytes: number[] = [];
    for (let i = 0; i < v.length; i++) {
      if (v[i] === '\\' && v[i + 1] === 'x') {
        bytes.push(Number.parseInt(v.slice(i + 2, i + 4), 16));
        i += 3;
      } else bytes.push(v.charCodeAt(i));
    }
    return Buffer.from(bytes).toString('hex');
  }
  throw new Error(`not binary: ${String(v)}`);
}

/** `2026-01-01 00:00:00.12+00`, `2026-01-01T00:00:00Z`, Date, micros bigint → `2026-01-01T00:00:00.120000Z`. */
export function isoMicros(v: unknown): string {
  if (v instanceof Date) return `${v.toISOString().slice(0, 23)}000Z`;
  const s = String(v);
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(s);
  if (!m) throw new Error(`not a timestamp: ${s}`);
  const frac = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
  let offset = m[4] ?? 'Z';
  if (offset === 'Z' || /^[+-]00(:?00)?$/.test(offset)) return `${m[1]}T${m[2]}.${frac}Z`;
  if (/^[+-]\d{2}$/.test(offset)) offset += ':00';
  const ms = Date.parse(`${m[1]}T${m[2]}${offset}`);
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

function decimalText(v: unknown, scale: number): string {
  const s = typeof v === 'number' ? v.toFixed(scale) : String(v);
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) throw new Error(`not a decimal: ${s}`);
  const frac = (m[3] ?? '').padEnd(scale, '0');
  return `${m[1]}${m[2] || '0'}${scale > 0 ? `.${frac}` : ''}`;
}

export function normValue(v: unknown, type: DataType, binary: BinaryText = 'duckdb'): unknown {
  if (v === null || v === undefined) return null;
  if (typeof type === 'object') {
    if (type.type === 'struct') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(type.fields.map((f) => [f.name, normValue(o[f.name], f.type, binary)]));
    }
    if (type.type === 'array') return (v as unknown[]).map((x) => normValue(x, type.elementType, binary));
    const entries: Array<[unknown, unknown]> = Array.isArray(v)
      ? (v as Array<{ key: unknown; value: unknown }>).map((e) => [e.key, e.value])
      : Object.entries(v as Record<string, unknown>);
    return Object.fromEntries(
      entries.map(([k, x]) => [
        type.keyType === 'string' ? String(k) : JSON.stringify(normValue(k, type.keyType, binary)),
        normValue(x, type.valueType, binary),
      ]),
    );
  }
  switch (type) {
    case 'long':
      return String(v);
    case 'integer':
    case 'short':
    case 'byte':
      return Number(v);
    case 'double':
    case 'float': {
      const n = Number(v);
      if (Number.isNaN(n)) return 'NaN';
      if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
      return n;
    }
    case 'boolean':
      return v === true || v === 'true';
    case 'string':
      return String(v);
    case 'binary':
      return hexOf(v, binary);
    case 'date':
      return v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10);
    case 'timestamp':
      return isoMicros(v);
  }
  const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  if (dec) return decimalText(v, Number(dec[2]));
  throw new Error(`cannot normalise type ${JSON.stringify(type)}`);
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const keys = Object.keys(v as object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** Sorts rows by their canonical JSON, so two readers' rows compare in any order. */
export function sortRows(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return [...rows].sort((a, b) => {
    const x = canonical(a);
    const y = canonical(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Normalised, sorted rows of any reader, by the table schema. */
export function normRows(
  rows: Record<string, unknown>[],
  schema: StructType,
  binary: BinaryText = 'duckdb',
): Record<string, unknown>[] {
  return sortRows(
    rows.map((r) =>
      Object.fromEntries(schema.fields.map((f) => [f.name, normValue(r[f.name], f.type, binary)])),
    ),
  );
}

/** JSON.parse that keeps integers beyond 2^53 exact (as bigint), reading the number's source text. */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === 'number' &&
    !Number.isSafeInteger(value) &&
    context?.source !== undefined &&
    /^-?\d+$/.test(context.source)
      ? BigInt(context.source)
      : value,
  );
}
