/**
 * Drives a generator into a log topic: in batches (one `produce` call each, so the log
 * can write a batch at once), as fast as possible or at a fixed rate, for a count or
 * until stopped.
 */
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import type { Log, ProduceRecord, TopicConfig } from '../../log/log.ts';

export interface RecordSource {
  /** A value is text (encoded as UTF-8) or bytes (produced as they are: a binary format such as Avro). */
  next(): { key: string; value: string | Uint8Array };
}

export interface ProduceLoopOptions {
  log: Log;
  topic: string;
  source: RecordSource;
  /** Stop after this many records; undefined: until `signal` aborts. */
  count?: number;
  /** Records per second; undefined or 0: as fast as the log accepts them. */
  rate?: number;
  /** Records per produce call (default 5,000; smaller at low rates so records flow smoothly). */
  batchSize?: number;
  clock?: Clock;
  /** Waits `ms` (injectable so tests of the rate limiter need no real sleeps). */
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
  /** Called after every produce call with the running total. */
  onProgress?: (produced: number) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Produces records until `count` is reached or `signal` aborts; returns how many were produced. */
export async function produceLoop(opts: ProduceLoopOptions): Promise<number> {
  const clock = opts.clock ?? systemClock;
  const sleep = opts.sleep ?? realSleep;
  const rate = opts.rate && opts.rate > 0 ? opts.rate : undefined;
  // At a fixed rate, send about 20 batches a second so latency figures are not dominated
  // by the generator's own batching.
  const batchSize = opts.batchSize ?? (rate ? Math.max(1, Math.min(5000, Math.ceil(rate / 20))) : 5000);
  const start = clock.now();
  let produced = 0;
  while (!opts.signal?.aborted && (opts.count === undefined || produced < opts.count)) {
    let n = Math.min(batchSize, opts.count === undefined ? batchSize : opts.count - produced);
    if (rate) {
      const allowed = Math.floor(((clock.now() - start) / 1000) * rate) - produced;
      if (allowed <= 0) {
        await sleep(
          Math.max(1, Math.ceil(((produced + Math.min(n, batchSize)) / rate) * 1000 - (clock.now() - start))),
        );
        continue;
      }
      n = Math.min(n, allowed);
    }
    await opts.log.produce(encodeBatch(opts.topic, opts.source, n));
    produced += n;
    opts.onProgress?.(produced);
  }
  return produced;
}

/**
 * Builds `n` records with one UTF-8 encoding of all keys and one of all values; each
 * record's key and value are views into those two buffers. (Measured: encoding record
 * by record with `Buffer.write` was several times slower than one joined encoding.)
 * A batch with a value given as bytes (a binary format) keeps each such value as it is.
 */
export function encodeBatch(topic: string, source: RecordSource, n: number): ProduceRecord[] {
  const keys: string[] = new Array(n);
  const values: string[] = new Array(n);
  let binary: Array<string | Uint8Array> | undefined;
  for (let i = 0; i < n; i++) {
    const r = source.next();
    keys[i] = r.key;
    if (binary) binary[i] = r.value;
    else if (typeof r.value === 'string') values[i] = r.value;
    else {
      binary = values.slice(0, i);
      binary[i] = r.value;
    }
  }
  if (binary) return binaryBatch(topic, keys, binary);
  const keyBuf = Buffer.from(keys.join(''));
  const valueBuf = Buffer.from(values.join(''));
  // Byte lengths equal string lengths only when everything is ASCII (the usual case);
  // otherwise each record's byte length is computed.
  const ascii = keyBuf.length === sumLengths(keys) && valueBuf.length === sumLengths(values);
  const records: ProduceRecord[] = new Array(n);
  let kPos = 0;
  let vPos = 0;
  for (let i = 0; i < n; i++) {
    const kLen = ascii ? keys[i].length : Buffer.byteLength(keys[i]);
    const vLen = ascii ? values[i].length : Buffer.byteLength(values[i]);
    records[i] = {
      topic,
      key: keyBuf.subarray(kPos, kPos + kLen),
      value: valueBuf.subarray(vPos, vPos + vLen),
    };
    kPos += kLen;
    vPos += vLen;
  }
  return records;
}

/** Records of a batch with byte values: keys encoded once as a whole, values as they are (text encoded). */
function binaryBatch(topic: string, keys: string[], values: Array<string | Uint8Array>): ProduceRecord[] {
  const keyBuf = Buffer.from(keys.join(''));
  const ascii = keyBuf.length === sumLengths(keys);
  const records: ProduceRecord[] = new Array(keys.length);
  let kPos = 0;
  for (let i = 0; i < keys.length; i++) {
    const kLen = ascii ? keys[i].length : Buffer.byteLength(keys[i]);
    const v = values[i];
    records[i] = {
      topic,
      key: keyBuf.subarray(kPos, kPos + kLen),
      value: typeof v === 'string' ? Buffer.from(v) : v,
    };
    kPos += kLen;
  }
  return records;
}

function sumLengths(xs: string[]): number {
  let s = 0;
  for (const x of xs) s += x.length;
  return s;
}

/** How a generator command runs: into which log and topic, how much, how fast. */
export interface GenerateRun {
  log: Log;
  /** Default: the scenario's topic. */
  topic?: string;
  /** Stop after this many records; undefined: until `signal` aborts. */
  count?: number;
  /** Records per second; undefined or 0: as fast as the log takes them. */
  rate?: number;
  clock?: Clock;
  signal?: AbortSignal;
  onProgress?: (produced: number) => void;
}

/**
 * Creates `topic` if it is missing (an existing topic keeps its configuration), then
 * produces from the generator `make` returns, told how many records the topic already
 * holds: a second run continues the first one's numbering instead of repeating it.
 */
export async function generateInto(
  run: GenerateRun,
  topic: string,
  config: TopicConfig,
  make: (existing: number, clock: Clock) => RecordSource,
): Promise<number> {
  const clock = run.clock ?? systemClock;
  const info = await run.log.ensureTopic(topic, config);
  let existing = 0;
  for (let p = 0; p < info.partitions; p++) existing += (await run.log.offsets(topic, p)).latest;
  return produceLoop({
    log: run.log,
    topic,
    source: make(existing, clock),
    count: run.count,
    rate: run.rate,
    clock,
    signal: run.signal,
    onProgress: run.onProgress,
  });
}
