/**
 * A Spark session (PySpark + delta-spark, see py/spark_worker.py) that a test file starts
 * once and asks to read and write many Delta tables: Spark's start-up costs seconds, a
 * request on a running session well under one.
 *
 * The Python comes from TRIBUTARY_TEST_SPARK_PYTHON (scripts/test.sh points it at
 * .venv-spark, which scripts/provision/spark.sh creates). Rows come back in the normal
 * form of test/interop/helpers.ts, sorted the same way.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { StructType } from '../../src/table/schema.ts';
import { sortRows } from '../interop/helpers.ts';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'py', 'spark_worker.py');
const PYTHON = process.env.TRIBUTARY_TEST_SPARK_PYTHON;
/** Spark's start, and any one request; far above what they take, so a hang fails the test. */
const TIMEOUT_MS = 10 * 60_000;

/**
 * Why the Spark tests cannot run here, or undefined when they can. Under CI a missing
 * Spark environment is a failure, never a silent skip.
 */
export function sparkSkip(): string | undefined {
  if (PYTHON === undefined) {
    const why =
      "TRIBUTARY_TEST_SPARK_PYTHON is not set; run the suite with 'npm test' (scripts/provision/spark.sh creates .venv-spark)";
    if (process.env.CI) throw new Error(why);
    return why;
  }
  if (!existsSync(PYTHON))
    throw new Error(
      `TRIBUTARY_TEST_SPARK_PYTHON=${PYTHON} does not exist; run scripts/provision/spark.sh to create .venv-spark`,
    );
  return undefined;
}

type Row = Record<string, unknown>;

export interface SparkTable {
  version: number;
  /** Spark's StructType JSON, which is the Delta schemaString format. */
  schema: StructType;
  partitionColumns: string[];
  configuration: Record<string, string>;
  protocol: { minReaderVersion: number; minWriterVersion: number };
  /** Absolute URIs of the data files Spark reads for this version. */
  files: string[];
  rows: Row[];
}

export type SparkStep = Record<string, unknown> & { op: string };

export interface SparkWriteResult {
  steps: Array<{ op: string; version: number; rows: Row[] }>;
  final: SparkTable;
}

/** Spark refused a request; `message` is Spark's own error text. */
export class SparkError extends Error {}

export class Spark {
  readonly versions: { spark: string; delta: string };
  #child: ChildProcessWithoutNullStreams;
  #answers: AsyncIterator<string>;
  #stderr: string[];
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    child: ChildProcessWithoutNullStreams,
    answers: AsyncIterator<string>,
    stderr: string[],
    versions: { spark: string; delta: string },
  ) {
    this.#child = child;
    this.#answers = answers;
    this.#stderr = stderr;
    this.versions = versions;
  }

  /** Starts Spark; resolves once its session is up. */
  static async start(): Promise<Spark> {
    const python = PYTHON;
    if (python === undefined) throw new Error('TRIBUTARY_TEST_SPARK_PYTHON is not set');
    const child = spawn(python, [WORKER], { stdio: ['pipe', 'pipe', 'pipe'] });
    // Keep the last lines of Spark's log for error messages, not the whole of it.
    const stderr: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr.push(line);
      if (stderr.length > 200) stderr.shift();
    });
    const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await nextLine(answers, child, stderr, 'starting Spark');
    const ready = JSON.parse(first) as { ready?: { spark: string; delta: string } };
    if (!ready.ready) throw new Error(`Spark worker did not start: ${first}`);
    return new Spark(child, answers, stderr, ready.ready);
  }

  /** Reads a table (optionally at a version or an ISO-8601 timestamp) with Spark. */
  async read(path: string, at: { version?: number; timestamp?: string } = {}): Promise<SparkTable> {
    const table = (await this.#request({ op: 'read', path, ...at })) as SparkTable;
    return { ...table, rows: sortRows(table.rows) };
  }

  /** Reads expecting Spark to refuse; returns Spark's error text. */
  async readError(path: string, at: { version?: number; timestamp?: string } = {}): Promise<string> {
    try {
      await this.#request({ op: 'read', path, ...at });
    } catch (err) {
      if (err instanceof SparkError) return err.message;
      throw err;
    }
    throw new Error(`expected Spark to refuse reading ${path} ${JSON.stringify(at)}, but it read it`);
  }

  /** Runs write steps on a table with Spark (see py/spark_worker.py); rows after each step. */
  async write(path: string, schema: StructType, steps: SparkStep[]): Promise<SparkWriteResult> {
    const out = (await this.#request({ op: 'write', path, schema, steps })) as SparkWriteResult;
    return {
      steps: out.steps.map((s) => ({ ...s, rows: sortRows(s.rows) })),
      final: { ...out.final, rows: sortRows(out.final.rows) },
    };
  }

  /** Runs Spark SQL; normalised, sorted rows. */
  async sql(query: string): Promise<Row[]> {
    const out = (await this.#request({ op: 'sql', query })) as { rows: Row[] };
    return sortRows(out.rows);
  }

  /** Ends the session: closing stdin lets the worker stop Spark and exit. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  // One request at a time: answers come back in order on one pipe.
  #request(req: Record<string, unknown>): Promise<unknown> {
    const next = this.#queue.then(async () => {
      this.#child.stdin.write(`${JSON.stringify(req)}\n`);
      const line = await nextLine(this.#answers, this.#child, this.#stderr, `${req.op} ${req.path ?? ''}`);
      const answer = JSON.parse(line) as { ok?: unknown; error?: string };
      if (answer.error !== undefined) throw new SparkError(answer.error);
      return answer.ok;
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

async function nextLine(
  answers: AsyncIterator<string>,
  child: ChildProcessWithoutNullStreams,
  stderr: string[],
  what: string,
): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Spark took over ${TIMEOUT_MS / 1000} s (${what}); its log:\n${stderr.join('\n')}`));
    }, TIMEOUT_MS);
  });
  try {
    const r = await Promise.race([answers.next(), timeout]);
    if (r.done)
      throw new Error(
        `Spark worker exited (code ${child.exitCode}) during ${what}; its log:\n${stderr.join('\n')}`,
      );
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}
