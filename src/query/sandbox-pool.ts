/**
 * Sandboxed queries run in worker processes (sandbox-worker.ts), so that what DuckDB
 * cannot stop does not stop the server: one function call can build a value far larger
 * than DuckDB's memory limit counts (`range(300000000)` as a list, `repeat(s, n)`,
 * `list_resize`), and cannot be interrupted while it does. The pool:
 *
 * - kills a worker whose resident memory grows past its size when the query started +
 *   1.5 × the query's memory limit + 64 MB (read from /proc every 25 ms; Linux only —
 *   elsewhere DuckDB's own limit is the only one);
 * - kills a worker that has not answered `timeoutMs` + 500 ms after the query was sent
 *   (the worker interrupts the statement at `timeoutMs` itself when DuckDB can);
 * - replaces a killed or dead worker, and a worker whose resting size grew by more than
 *   the memory limit, at once (the replacement starts in the background).
 *
 * Workers are started on first use (or by `warm()`), up to `size`; queries beyond wait
 * in order. A worker takes about a second to start (Node.js, DuckDB, the table layer).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCode, TributaryError } from '../core/errors.ts';
import { sizeBytes } from './sandbox-engine.ts';
import {
  DEFAULT_MEMORY_LIMIT,
  type SandboxedQueryOptions,
  type SandboxedQueryResult,
} from './sandbox-run.ts';

const WATCH_MS = 25;
const GRACE_MS = 500;
const SLACK_BYTES = 64 * 2 ** 20;

const WORKER_FILE = fileURLToPath(
  new URL(`./sandbox-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** Resident bytes of a process, from /proc; undefined where there is no /proc. */
export function residentBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

type Reply = {
  id: number;
  result?: SandboxedQueryResult;
  error?: { code: string; message: string; details: Record<string, unknown> };
};

class Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** Resident size once loaded, before any query. */
  restingBytes: number | undefined;
  dead = false;
  private nextId = 0;

  constructor() {
    // Inspector flags would make every worker try to open the parent's debugging port.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--inspect'));
    this.child = fork(WORKER_FILE, [], {
      serialization: 'advanced',
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('exit', () => {
      this.dead = true;
    });
    // An idle worker keeps nobody waiting: the parent may exit, and the worker follows.
    this.child.unref();
    this.child.channel?.unref();
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (!m.ready) return;
        this.child.off('exit', onExit);
        this.restingBytes = residentBytes(this.child.pid!);
        resolve();
      };
      const onExit = (code: number | null, signal: string | null) =>
        reject(
          new TributaryError('INTERNAL', `the SQL sandbox worker did not start (exit ${code ?? signal})`),
        );
      this.child.once('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  /** Keeps the parent running while the worker is in use (an idle one is unreferenced). */
  hold(inUse: boolean): void {
    if (inUse) {
      this.child.ref();
      this.child.channel?.ref();
    } else {
      this.child.unref();
      this.child.channel?.unref();
    }
  }

  kill(): void {
    this.dead = true;
    this.child.kill('SIGKILL');
  }

  run(opts: SandboxedQueryOptions): Promise<SandboxedQueryResult> {
    const id = this.nextId++;
    const limit = sizeBytes(opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT) ?? 0;
    const pid = this.child.pid!;
    const start = residentBytes(pid);
    const killAt = start === undefined ? undefined : start + 1.5 * limit + SLACK_BYTES;
    return new Promise((resolve, reject) => {
      let stopped: TributaryError | undefined;
      const stop = (err: TributaryError) => {
        stopped ??= err;
        this.kill();
      };
      const deadline = setTimeout(
        () =>
          stop(
            new TributaryError(
              'QUERY_TIMEOUT',
              `the query ran longer than its limit of ${opts.timeoutMs} ms and was stopped; filter or aggregate more so it reads less, or ask for a longer limit`,
              { sql: opts.sql, timeoutMs: opts.timeoutMs },
            ),
          ),
        opts.timeoutMs + GRACE_MS,
      );
      const watch =
        killAt === undefined
          ? undefined
          : setInterval(() => {
              const rss = residentBytes(pid);
              if (rss !== undefined && rss > killAt) {
                stop(
                  new TributaryError(
                    'QUERY_MEMORY_LIMIT',
                    `the query needed more than its memory limit of ${opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT} (its process held ${Math.round(rss / 2 ** 20)} MiB) and was stopped; filter or aggregate more, or ask for a higher limit`,
                    { sql: opts.sql, memoryLimit: opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT },
                  ),
                );
              }
            }, WATCH_MS);
      const done = () => {
        clearTimeout(deadline);
        if (watch) clearInterval(watch);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const onMessage = (m: Reply) => {
        if (m.id !== id) return;
        done();
        if (m.result) return resolve(m.result);
        const e = m.error!;
        const code = (e.code in ERROR_CODES ? e.code : 'INTERNAL') as ErrorCode;
        reject(new TributaryError(code, e.message, e.details));
      };
      const onExit = (code: number | null, signal: string | null) => {
        done();
        reject(
          stopped ??
            new TributaryError(
              'QUERY_MEMORY_LIMIT',
              `the query's process ended (${signal ?? `exit ${code}`}) while it ran — most likely it needed more memory than the machine gave it; filter or aggregate more`,
              { sql: opts.sql },
            ),
        );
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send({ id, opts });
    });
  }
}

export class SandboxPool {
  readonly size: number;
  private readonly idle: Worker[] = [];
  private busy = 0;
  private readonly waiting: Array<() => void> = [];
  private closed = false;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new TributaryError('CONFIG_INVALID', `the SQL sandbox needs at least one worker, got ${size}`);
    }
    this.size = size;
  }

  /** A new worker, starting in the background (a failed start shows when it is used). */
  private spawn(): Worker {
    const worker = new Worker();
    worker.ready.catch(() => {});
    return worker;
  }

  /** Starts the workers now, so the first queries do not wait for them. */
  warm(): void {
    while (!this.closed && this.idle.length + this.busy < this.size) this.idle.push(this.spawn());
  }

  private async acquire(): Promise<Worker> {
    while (this.busy >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy++;
    let worker = this.idle.pop();
    while (worker?.dead) worker = this.idle.pop();
    try {
      worker ??= this.spawn();
      worker.hold(true);
      await worker.ready;
      return worker;
    } catch (err) {
      this.busy--;
      worker?.kill();
      this.waiting.shift()?.();
      throw err;
    }
  }

  private release(worker: Worker, memoryLimit: number): void {
    this.busy--;
    worker.hold(false);
    const now = residentBytes(worker.child.pid!);
    const bloated =
      now !== undefined && worker.restingBytes !== undefined && now > worker.restingBytes + memoryLimit;
    if (this.closed || bloated) worker.kill();
    if (!worker.dead) this.idle.push(worker);
    else if (!this.closed) this.idle.push(this.spawn()); // its replacement, warming up
    this.waiting.shift()?.();
  }

  async run(opts: SandboxedQueryOptions): Promise<SandboxedQueryResult> {
    if (this.closed) throw new TributaryError('INTERNAL', 'the SQL sandbox is closed');
    const worker = await this.acquire();
    try {
      return await worker.run(opts);
    } finally {
      this.release(worker, sizeBytes(opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT) ?? 0);
    }
  }

  /** Stops the idle workers now and the busy ones when their query ends. */
  close(): void {
    this.closed = true;
    for (const w of this.idle.splice(0)) w.kill();
  }
}
