/**
 * The test Trino server (TRIBUTARY_TEST_TRINO, started by scripts/provision/trino.start.sh):
 * SQL through Trino's HTTP client protocol (POST /v1/statement, then follow `nextUri`),
 * and Delta tables registered in its `delta` catalog (`system.register_table`) under a
 * schema of the test file's own.
 *
 * Values come back decoded from Trino's JSON by the column types Trino reports: bigint
 * exact (bigint beyond 2^53), row as an object by field name, varbinary as bytes,
 * `timestamp(p) with time zone` as an ISO string in UTC; decimals stay the exact text
 * Trino sends. normRows (test/interop/helpers.ts) then puts them in the normal form.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseJsonExact, ROOT } from '../interop/helpers.ts';

const URL_ = process.env.TRIBUTARY_TEST_TRINO;
const FIND_JAVA = join(ROOT, 'scripts', 'provision', 'trino', 'find-java.sh');
/** Any one request; far above what one takes, so a hung server fails the test. */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * Why the Trino tests cannot run here, or undefined when they can. Without a Java that
 * runs Trino (24.0.1 or newer) they skip, also under CI, with find-java.sh's reason; with
 * one, an unset TRIBUTARY_TEST_TRINO is a failure under CI, never a silent skip.
 */
export function trinoSkip(): string | undefined {
  if (URL_ !== undefined) return undefined;
  const java = spawnSync('bash', [FIND_JAVA], { encoding: 'utf8' });
  if (java.status !== 0) return `no Java to run Trino: ${java.stderr.trim()}`;
  const why = `TRIBUTARY_TEST_TRINO is not set (Java at ${java.stdout.trim()} could run Trino): run the suite with 'npm test', or start a server with: eval "$(bash scripts/provision/trino.start.sh)"`;
  if (process.env.CI) throw new Error(why);
  return why;
}

/** Trino refused a statement; `errorName` is its name for the error (TABLE_NOT_FOUND, ...). */
export class TrinoError extends Error {
  readonly errorName: string;
  constructor(message: string, errorName: string) {
    super(message);
    this.errorName = errorName;
  }
}

/** Trino's description of a type (the `typeSignature` of a column). */
export interface TypeSignature {
  rawType: string;
  arguments: Array<{
    kind: string;
    value: TypeSignature | number | { fieldName?: { name: string }; typeSignature: TypeSignature };
  }>;
}

export interface TrinoColumn {
  name: string;
  /** Trino's type name, e.g. `row(city varchar, geo row(lat double, lon double))`. */
  type: string;
  typeSignature: TypeSignature;
}

export interface TrinoResult {
  columns: TrinoColumn[];
  /** Rows as objects by column name, values decoded (see the file's comment). */
  rows: Record<string, unknown>[];
}

interface Answer {
  nextUri?: string;
  columns?: TrinoColumn[];
  data?: unknown[][];
  error?: { errorName: string; message: string };
}

async function call(url: string, sql?: string): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, {
      method: sql === undefined ? 'GET' : 'POST',
      body: sql,
      headers: { 'X-Trino-User': 'tributary', 'X-Trino-Time-Zone': 'UTC' },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    // The protocol: 502, 503 and 504 mean "ask again" (a busy or restarting server).
    if ([502, 503, 504].includes(res.status) && attempt < 20) {
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      continue;
    }
    if (!res.ok) throw new Error(`Trino answered ${res.status} to ${url}: ${text.slice(0, 500)}`);
    return parseJsonExact(text) as Answer;
  }
}

/** Runs one statement; throws TrinoError with Trino's own message when it refuses it. */
export async function trino(sql: string): Promise<TrinoResult> {
  if (URL_ === undefined) throw new Error('TRIBUTARY_TEST_TRINO is not set');
  let answer = await call(`${URL_}/v1/statement`, sql);
  let columns: TrinoColumn[] | undefined;
  const data: unknown[][] = [];
  while (true) {
    columns ??= answer.columns;
    if (answer.data) data.push(...answer.data);
    if (answer.error) {
      throw new TrinoError(
        `Trino refused: ${answer.error.errorName}: ${answer.error.message}\n  in: ${sql}`,
        answer.error.errorName,
      );
    }
    if (answer.nextUri === undefined) break;
    answer = await call(answer.nextUri);
  }
  const cols = columns ?? [];
  return {
    columns: cols,
    rows: data.map((r) => Object.fromEntries(cols.map((c, i) => [c.name, decode(r[i], c.typeSignature)]))),
  };
}

function decode(v: unknown, type: TypeSignature): unknown {
  if (v === null) return null;
  switch (type.rawType) {
    case 'row': {
      const values = v as unknown[];
      return Object.fromEntries(
        type.arguments.map((a, i) => {
          const f = a.value as { fieldName?: { name: string }; typeSignature: TypeSignature };
          return [f.fieldName?.name ?? `field${i}`, decode(values[i], f.typeSignature)];
        }),
      );
    }
    case 'array':
      return (v as unknown[]).map((x) => decode(x, type.arguments[0].value as TypeSignature));
    case 'map': {
      const valueType = type.arguments[1].value as TypeSignature;
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, decode(x, valueType)]),
      );
    }
    case 'varbinary':
      return new Uint8Array(Buffer.from(v as string, 'base64'));
    case 'timestamp with time zone': {
      // `2026-01-01 12:34:56.123 UTC` (the session's zone is UTC).
      const m = /^(\S+) (\S+) UTC$/.exec(v as string);
      if (!m) throw new Error(`unexpected timestamp with time zone from Trino: ${String(v)}`);
      return `${m[1]}T${m[2]}Z`;
    }
    default:
      return v;
  }
}

/**
 * What Trino reads for a Delta `timestamp` written as `iso` (normal form, micros, UTC):
 * its connector maps the type to `timestamp(3) with time zone` and rounds the stored
 * microseconds to the nearest millisecond, half up (…59.999500Z reads as the next
 * second; seen on Trino 476). Returned in the normal form again.
 */
export function trinoTimestamp(iso: string): string {
  const m = /^(.*T\d{2}:\d{2}:\d{2})\.(\d{6})Z$/.exec(iso);
  if (!m) throw new Error(`not a normal-form timestamp: ${iso}`);
  const micros = BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(m[2]);
  const shifted = micros + 500n;
  const ms = shifted / 1000n - (shifted % 1000n < 0n ? 1n : 0n); // floor
  return `${new Date(Number(ms)).toISOString().slice(0, 23)}000Z`;
}

/** A SQL string literal. */
export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * A schema of the test file's own in the `delta` catalog, where tables written by the
 * test are registered by location; `drop()` forgets them (the files stay) and the schema.
 */
export class TrinoSchema {
  readonly name: string;
  #tables: string[] = [];

  private constructor(name: string) {
    this.name = name;
  }

  static async create(prefix: string): Promise<TrinoSchema> {
    const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.replace(
      /[^a-z0-9_]/g,
      '_',
    );
    await trino(`CREATE SCHEMA delta.${name}`);
    return new TrinoSchema(name);
  }

  /**
   * Registers the Delta table at the absolute `path` as `name`; returns its qualified name
   * for SQL. Trino takes the location's text as it is (no %-decoding): `local://` + path,
   * the scheme its local file system gives the files it lists.
   */
  async register(path: string, name: string): Promise<string> {
    await trino(
      `CALL delta.system.register_table(schema_name => ${sqlString(this.name)}, table_name => ${sqlString(name)}, table_location => ${sqlString(`local://${path}`)})`,
    );
    this.#tables.push(name);
    return `delta.${this.name}.${name}`;
  }

  async drop(): Promise<void> {
    for (const t of this.#tables) {
      await trino(
        `CALL delta.system.unregister_table(schema_name => ${sqlString(this.name)}, table_name => ${sqlString(t)})`,
      );
    }
    await trino(`DROP SCHEMA delta.${this.name}`);
  }
}
