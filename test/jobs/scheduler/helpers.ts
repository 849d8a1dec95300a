/**
 * Shared by the scheduler tests: virtual time (a clock and a sleep that only move when
 * the test says, so hours of schedule pass at once), task kinds registered from the
 * tests (the registry makes that possible with no test code in src/), an event
 * recorder, and a loopback HTTP server that receives webhooks.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import type { Clock } from '../../../src/core/clock.ts';
import {
  type JobEvent,
  registerTaskKind,
  type Sleep,
  type TaskContext,
} from '../../../src/jobs/scheduler/index.ts';
import { cleanup, tempDir } from '../../interop/helpers.ts';

/** Lets every callback queued so far (and the microtasks they queue) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

interface Waiter {
  at: number;
  wake: () => void;
}

/** A clock and a sleep in virtual time: sleepers wake only when `advanceTo` passes their deadline. */
export class VirtualTime implements Clock {
  private t: number;
  private waiters: Waiter[] = [];

  constructor(startMs: number) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  readonly sleep: Sleep = (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const w: Waiter = {
        at: this.t + Math.max(0, ms),
        wake: () => {
          this.waiters = this.waiters.filter((x) => x !== w);
          signal?.removeEventListener('abort', w.wake);
          resolve();
        },
      };
      signal?.addEventListener('abort', w.wake, { once: true });
      this.waiters.push(w);
    });

  /** Deadlines of the sleepers, soonest first. */
  deadlines(): number[] {
    return this.waiters.map((w) => w.at).sort((a, b) => a - b);
  }

  /** Moves the time to `target`, waking each sleeper at its own deadline, in order. */
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      await settle();
      const due = this.waiters.filter((w) => w.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.t = Math.max(this.t, due.at);
      due.wake();
    }
    this.t = Math.max(this.t, target);
    await settle();
  }
}

/**
 * A sleep that returns at once, moving `clock` and noting each wait (back-off between
 * attempts, a timeout made to expire); waits of `hangFromMs` or more (the default task
 * timeout, one hour) last until their signal aborts, so they never expire in a test.
 */
export function instantSleep(
  clock: { advance(ms: number): void },
  waits: number[],
  hangFromMs = 3_600_000,
): Sleep {
  return (ms, signal) => {
    if (ms >= hangFromMs) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) resolve();
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    waits.push(ms);
    clock.advance(ms);
    return Promise.resolve();
  };
}

/** Records events and lets a test wait for one. */
export class Events {
  readonly list: JobEvent[] = [];
  private waiting: Array<{ pred: (e: JobEvent) => boolean; resolve: (e: JobEvent) => void }> = [];

  readonly on = (e: JobEvent): void => {
    this.list.push(e);
    for (const w of [...this.waiting]) {
      if (w.pred(e)) {
        this.waiting = this.waiting.filter((x) => x !== w);
        w.resolve(e);
      }
    }
  };

  /** The first event (already seen or to come) for which `pred` holds. */
  waitFor<T extends JobEvent['type']>(
    type: T,
    pred: (e: Extract<JobEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<JobEvent, { type: T }>> {
    const p = (e: JobEvent) => e.type === type && pred(e as Extract<JobEvent, { type: T }>);
    const seen = this.list.find(p);
    if (seen) return Promise.resolve(seen as Extract<JobEvent, { type: T }>);
    return new Promise((resolve) => {
      this.waiting.push({ pred: p, resolve: resolve as (e: JobEvent) => void });
    });
  }

  of<T extends JobEvent['type']>(type: T): Array<Extract<JobEvent, { type: T }>> {
    return this.list.filter((e) => e.type === type) as Array<Extract<JobEvent, { type: T }>>;
  }
}

// --- task kinds of the tests --------------------------------------------------------

export interface Call {
  task: string;
  runId: string;
  attempt: number;
  date: string;
  scheduledTime: number;
  params: Record<string, unknown>;
}

/** Every call of the test kinds, in order. */
export const calls: Call[] = [];

function note(params: Record<string, unknown>, ctx: TaskContext): void {
  calls.push({
    task: ctx.task,
    runId: ctx.runId,
    attempt: ctx.attempt,
    date: ctx.date,
    scheduledTime: ctx.scheduledTime,
    params,
  });
}

/** Gates the `gate` kind waits on, by name: the test opens them. */
const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
export function gate(name: string): { promise: Promise<void>; open: () => void } {
  let g = gates.get(name);
  if (g === undefined) {
    let open!: () => void;
    const promise = new Promise<void>((r) => {
      open = r;
    });
    g = { promise, open };
    gates.set(name, g);
  }
  return g;
}
export function resetGates(): void {
  gates.clear();
}

const anyParams = () => [];

/**
 * - `noop`: succeeds.
 * - `flaky` { fail: N }: attempts 1..N of each run fail, the next succeeds.
 * - `gate` { gate: NAME }: waits until the test opens the gate.
 * - `hang`: never ends and ignores its signal (work that cannot be cancelled).
 */
export function registerTestKinds(): void {
  registerTaskKind('noop', {
    check: anyParams,
    async run(params, ctx) {
      note(params, ctx);
      return { ok: true };
    },
  });
  registerTaskKind('flaky', {
    check: (p) => (typeof p.fail === 'number' ? [] : [{ path: ['fail'], message: 'expected a number' }]),
    async run(params, ctx) {
      note(params, ctx);
      if (ctx.attempt <= (params.fail as number)) throw new Error(`planted failure ${ctx.attempt}`);
      return { attempt: ctx.attempt };
    },
  });
  registerTaskKind('gate', {
    check: anyParams,
    async run(params, ctx) {
      note(params, ctx);
      await gate(String(params.gate)).promise;
      return {};
    },
  });
  registerTaskKind('hang', {
    check: anyParams,
    run(params, ctx) {
      note(params, ctx);
      return new Promise(() => {});
    },
  });
}

// --- webhook receiver ---------------------------------------------------------------

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** An HTTP server on 127.0.0.1 answering each POST with the next status of `statuses` (then 200). */
export async function webhookServer(statuses: number[] = []): Promise<{
  url: string;
  received: Received[];
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tributary?token=secret`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The job crash-child.ts runs and crash.test.ts kills: `blocker` blocks in the child. */
export const CRASH_JOB = {
  name: 'crashy',
  tasks: [
    { name: 'first', kind: 'noop' },
    { name: 'blocker', kind: 'block', depends_on: ['first'] },
    { name: 'last', kind: 'noop', depends_on: ['blocker'] },
  ],
};

/** What a suite's tests share: a data directory of their own per test, and the lines the scheduler logged. */
export interface JobsSuite {
  readonly dataDir: string;
  readonly logs: string[];
  log(line: string): void;
}

/**
 * Hooks for a describe() block: a temporary folder for the suite (removed after it), a
 * fresh data directory per test (its own history and alerts), the test task kinds
 * registered, and `calls`/`logs` emptied before each test.
 */
export function jobsSuite(prefix: string): JobsSuite {
  let dir = '';
  let n = 0;
  const suite = { dataDir: '', logs: [] as string[], log: (line: string) => suite.logs.push(line) };
  before(async () => {
    registerTestKinds();
    dir = await tempDir(prefix);
  });
  after(() => cleanup(dir));
  beforeEach(() => {
    suite.dataDir = join(dir, `data${n++}`);
    calls.length = 0;
    suite.logs.length = 0;
  });
  return suite;
}
