/**
 * The registry's durable store: its events (state.ts) are records of one topic of our
 * log (`_schemas` by default: one partition, no retention), as Confluent's registry keeps
 * `_schemas` in Kafka. Opening replays the topic into memory; a tail keeps reading it,
 * so an instance sees what other instances on the same log write.
 *
 * Writes (`write`) are serialized within an instance. Each one reads up to the end of
 * the topic, decides against that state, appends its event with the offset it had read
 * to (`basis`), reads back to its own record and learns whether it was applied; if
 * another writer got in first, it decides again. The log's order alone decides, so any
 * number of instances may write (state.ts says why no id goes to two schemas).
 *
 * The embedded log lets one process write a partition at a time and keeps a writer's
 * lock until it closes; so on the embedded log each append opens its own short-lived
 * writer (fsync 'always': a registration acknowledged is on disk) and closes it again,
 * and an append that finds the lock taken waits for it. On Kafka, appends go through the
 * given log.
 */
import { randomUUID } from 'node:crypto';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { EmbeddedLog } from '../../log/embedded/embedded-log.ts';
import type { Log, LogRecord } from '../../log/log.ts';
import { registryError } from './errors.ts';
import { decodeRecord, encodeRecord, RegistryState, type StoreEvent, type StoreRecord } from './state.ts';

export const DEFAULT_TOPIC = '_schemas';

export interface RegistryStoreOptions {
  log: Log;
  /** The topic of the registry's records (default `_schemas`). */
  topic?: string;
  /** How long a read-back or an append may take before the request fails with 50001 (default 10 s). */
  timeoutMs?: number;
  /** Told about records in the topic that are not the registry's (default: console.warn). */
  onWarning?: (message: string) => void;
  /** Called between deciding and appending: tests let another writer in there. */
  beforeAppend?: () => Promise<void>;
}

/** What a write decided: its result, and the event to append (none: nothing to change). */
export interface Decision<T> {
  result: T;
  event?: StoreEvent;
}

const TAIL_WAIT_MS = 200;
const MAX_ATTEMPTS = 50;

export class RegistryStore {
  readonly state = new RegistryState();
  readonly topic: string;
  readonly log: Log;
  /** This instance's id in the records it writes. */
  readonly instance = randomUUID();
  /** The error of the last failed read of the topic, cleared by the next good one. */
  lastError: Error | undefined;
  /** Records in the topic that are not the registry's. */
  foreign = 0;
  /** Appends of this instance that another writer got ahead of (decided again). */
  lostRaces = 0;
  private cursor = 0;
  private readonly timeoutMs: number;
  private readonly warn: (message: string) => void;
  private readonly beforeAppend: (() => Promise<void>) | undefined;
  private readonly outcomes = new Map<number, boolean>();
  private waiters: { offset: number; resolve: () => void }[] = [];
  private tail: Promise<void> | undefined;
  private stopping = false;
  private closing = false;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(opts: RegistryStoreOptions) {
    this.log = opts.log;
    this.topic = opts.topic ?? DEFAULT_TOPIC;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.warn = opts.onWarning ?? ((m) => console.warn(m));
    this.beforeAppend = opts.beforeAppend;
  }

  /** Opens the store: creates the topic if needed, replays it, and starts tailing it. */
  static async open(opts: RegistryStoreOptions): Promise<RegistryStore> {
    const store = new RegistryStore(opts);
    const { log, topic } = store;
    const info = await log.ensureTopic(topic, { partitions: 1 });
    if (info.partitions !== 1) {
      throw new TributaryError(
        'REGISTRY_STORE_INVALID',
        `the registry's topic '${topic}' has ${info.partitions} partitions; it needs exactly one (the order of its records decides). Give the registry a topic of its own (--topic).`,
        { topic, log: log.description },
      );
    }
    const { earliest, latest } = await log.offsets(topic, 0);
    if (earliest > 0) {
      throw new TributaryError(
        'REGISTRY_STORE_INVALID',
        `the registry's topic '${topic}' starts at offset ${earliest}: records before it were deleted (retention?), so the registry cannot rebuild its schemas. Restore the topic, or give it one with no retention.`,
        { topic, log: log.description, earliest },
      );
    }
    store.tail = store.tailLoop();
    try {
      await store.waitFor(latest, 'replaying the topic');
      if (store.foreign > 0) {
        throw new TributaryError(
          'REGISTRY_STORE_INVALID',
          `the topic '${topic}' (${log.description}) holds ${store.foreign} records the registry did not write — another registry's topic? Give this registry a topic of its own (--topic).`,
          { topic, log: log.description },
        );
      }
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** The offset the store has read up to (the next one it reads). */
  get position(): number {
    return this.cursor;
  }

  /** Reads up to the end of the topic as it is now (what other instances wrote so far). */
  async catchUp(): Promise<void> {
    let latest: number;
    try {
      latest = (await this.log.offsets(this.topic, 0)).latest;
    } catch (err) {
      throw storeError(`could not read the end of topic '${this.topic}'`, err);
    }
    await this.waitFor(latest, 'reading the topic');
  }

  /**
   * Decides against the current state and appends the event decided on, again until the
   * event is the one the log applies. `decide` may throw (a request that cannot be
   * taken); it is called again after every lost race.
   */
  write<T>(decide: (state: RegistryState) => Decision<T>): Promise<T> {
    if (this.closing) return Promise.reject(storeError('the registry is stopping'));
    const run = this.chain.then(() => this.writeNow(decide));
    this.chain = run.catch(() => {});
    return run;
  }

  private async writeNow<T>(decide: (state: RegistryState) => Decision<T>): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await this.catchUp();
      const d = decide(this.state);
      if (d.event === undefined) return d.result;
      const rec: StoreRecord = { ...d.event, v: 1, basis: this.cursor, writer: this.instance };
      await this.beforeAppend?.();
      const offset = await this.append(rec);
      await this.waitFor(offset + 1, 'reading back a registration');
      const won = this.outcomes.get(offset);
      this.outcomes.delete(offset);
      if (won === true) return d.result;
      this.lostRaces++;
      if (won === undefined) throw storeError(`the record appended at offset ${offset} was not read back`);
    }
    throw storeError(`other writers kept changing the registry: gave up after ${MAX_ATTEMPTS} attempts`);
  }

  private async append(rec: StoreRecord): Promise<number> {
    const record = {
      topic: this.topic,
      partition: 0,
      key: Buffer.from(rec.op === 'config' ? `config:${rec.subject ?? ''}` : `subject:${rec.subject}`),
      value: encodeRecord(rec),
    };
    if (!(this.log instanceof EmbeddedLog)) {
      try {
        return (await this.log.produce([record]))[0].offset;
      } catch (err) {
        throw storeError(`could not append to topic '${this.topic}'`, err);
      }
    }
    const deadline = performance.now() + this.timeoutMs;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      const writer = new EmbeddedLog({ dir: this.log.dir, fsync: 'always', retentionCheckMs: 0 });
      try {
        return (await writer.produce([record]))[0].offset;
      } catch (err) {
        if (!isTributaryError(err, 'LOG_LOCKED') || performance.now() > deadline) {
          throw storeError(`could not append to topic '${this.topic}'`, err);
        }
      } finally {
        await writer.close();
      }
      await sleep(pause * (0.5 + Math.random()));
    }
  }

  private async tailLoop(): Promise<void> {
    let pause = 50;
    while (!this.stopping) {
      try {
        const r = await this.log.fetch(this.topic, 0, this.cursor, { maxWaitMs: TAIL_WAIT_MS });
        this.consume(r.records, r.nextOffset);
        this.lastError = undefined;
        pause = 50;
      } catch (err) {
        if (this.stopping) break;
        this.lastError = err as Error;
        await sleep(pause);
        pause = Math.min(pause * 2, 2000);
      }
    }
  }

  private consume(records: LogRecord[], next: number): void {
    for (const r of records) {
      const rec = decodeRecord(r.value);
      if (rec === undefined) {
        if (this.foreign++ === 0) {
          this.warn(
            `schema registry: the record at offset ${r.offset} of topic '${this.topic}' is not the registry's; ignored (is another registry using this topic?)`,
          );
        }
        continue;
      }
      const applied = this.state.apply(r.offset, rec);
      if (rec.writer === this.instance) this.outcomes.set(r.offset, applied);
    }
    this.cursor = next;
    if (this.waiters.length > 0) {
      const ready = this.waiters.filter((w) => w.offset <= next);
      this.waiters = this.waiters.filter((w) => w.offset > next);
      for (const w of ready) w.resolve();
    }
  }

  /** Resolves once the store has read every record before `offset`. */
  private waitFor(offset: number, what: string): Promise<void> {
    if (this.cursor >= offset) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          storeError(
            `${what}: topic '${this.topic}' not read up to offset ${offset} within ${this.timeoutMs} ms (read up to ${this.cursor})`,
            this.lastError,
          ),
        );
      }, this.timeoutMs);
      const waiter = {
        offset,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Lets the writes under way finish, refuses new ones, stops tailing (the log stays open: it is the caller's). */
  async close(): Promise<void> {
    this.closing = true;
    await this.chain;
    this.stopping = true;
    await this.tail;
  }
}

function storeError(what: string, cause?: unknown): TributaryError {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return registryError(
    50001,
    `Error in the backend data store: ${what}${why}. Check that the log (the data directory or Kafka) is reachable, then retry.`,
    {},
    cause,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
