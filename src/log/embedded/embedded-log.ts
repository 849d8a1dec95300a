/**
 * The embedded durable event log: the default `Log`, kept in files under one directory
 * (docs/log.md). Several processes may share the directory: each partition has at most
 * one writer process (a lock file), any number of readers, and readers see appends
 * from other processes as soon as whole batches are on disk.
 */
import { join } from 'node:path';
import { type Clock, systemClock } from '../../core/clock.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { SyncObserver } from '../../core/fsync.ts';
import type {
  FetchOptions,
  FetchResult,
  Log,
  PartitionOffsets,
  ProduceRecord,
  ProduceResult,
  TopicConfig,
  TopicInfo,
  ValueBatch,
} from '../log.ts';
import { ChangeWaiter } from './change-waiter.ts';
import { type Limits, recordCollector, ValueCollector } from './fetch-visitors.ts';
import { dropTopicOffsets, readCommittedOffsets, writeCommittedOffset } from './groups.ts';
import { PartitionReader } from './partition-reader.ts';
import { type FsyncPolicy, PartitionWriter } from './partition-writer.ts';
import { checkPartition, routeRecords } from './route.ts';
import {
  createTopicFiles,
  deleteTopicFiles,
  listTopicFiles,
  notFound,
  partitionDir,
  readTopic,
} from './topics.ts';

export interface EmbeddedLogOptions {
  /** The log directory (holds one directory per topic). */
  dir: string;
  clock?: Clock;
  /** When appended data is forced to disk (docs/log.md, "Flush policy"). Default 'interval'. */
  fsync?: FsyncPolicy;
  /** With fsync 'interval': how often dirty partitions are synced (default 1,000 ms). */
  fsyncIntervalMs?: number;
  /** A segment is rolled once it reaches this size (default 64 MiB). */
  segmentBytes?: number;
  /** How often writers apply retention besides on every roll (default 60,000 ms; 0 disables). */
  retentionCheckMs?: number;
  /** Told about each completed file or directory sync (for tests of what is synced when). */
  onSync?: SyncObserver;
}

const DEFAULT_MAX_RECORDS = 10_000;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 8 * 1024 * 1024;

export class EmbeddedLog implements Log {
  readonly description: string;
  readonly dir: string;
  private readonly clock: Clock;
  private readonly fsync: FsyncPolicy;
  private readonly onSync?: SyncObserver;
  private readonly segmentBytes: number;
  private readonly writers = new Map<string, PartitionWriter>();
  private readonly readers = new Map<string, PartitionReader>();
  private readonly topics = new Map<string, TopicInfo>();
  private readonly roundRobin = new Map<string, number>();
  private readonly waiter = new ChangeWaiter();
  private readonly timers: NodeJS.Timeout[] = [];
  private scratch = Buffer.allocUnsafe(MIN_CHUNK);
  private closed = false;

  constructor(opts: EmbeddedLogOptions) {
    this.dir = opts.dir;
    this.description = `embedded:${opts.dir}`;
    this.clock = opts.clock ?? systemClock;
    this.fsync = opts.fsync ?? 'interval';
    this.onSync = opts.onSync;
    this.segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    if (this.fsync === 'interval') {
      const t = setInterval(() => this.syncAll(), opts.fsyncIntervalMs ?? 1000);
      t.unref();
      this.timers.push(t);
    }
    const retentionMs = opts.retentionCheckMs ?? 60_000;
    if (retentionMs > 0) {
      const t = setInterval(() => this.enforceRetention(), retentionMs);
      t.unref();
      this.timers.push(t);
    }
  }

  async createTopic(name: string, config: TopicConfig): Promise<void> {
    this.topics.set(name, createTopicFiles(this.dir, name, config, this.syncOptions()));
  }

  async ensureTopic(name: string, config: TopicConfig): Promise<TopicInfo> {
    try {
      return readTopic(this.dir, name);
    } catch (err) {
      if (!isTributaryError(err, 'LOG_TOPIC_NOT_FOUND')) throw err;
    }
    try {
      return createTopicFiles(this.dir, name, config, this.syncOptions());
    } catch (err) {
      if (isTributaryError(err, 'LOG_TOPIC_EXISTS')) return readTopic(this.dir, name);
      throw err;
    }
  }

  async deleteTopic(name: string): Promise<void> {
    for (const [key, w] of this.writers) {
      if (w.ref.topic === name) {
        w.close();
        this.writers.delete(key);
      }
    }
    for (const [key, r] of this.readers) if (r.ref.topic === name) this.readers.delete(key);
    this.topics.delete(name);
    deleteTopicFiles(this.dir, name, this.syncOptions());
    dropTopicOffsets(this.dir, name);
  }

  async listTopics(): Promise<TopicInfo[]> {
    return listTopicFiles(this.dir);
  }

  async describeTopic(name: string): Promise<TopicInfo> {
    const info = readTopic(this.dir, name);
    this.topics.set(name, info);
    return info;
  }

  /** Topic metadata for the hot paths; read from disk once per topic. */
  private topic(name: string): TopicInfo {
    let info = this.topics.get(name);
    if (info === undefined) {
      info = readTopic(this.dir, name);
      this.topics.set(name, info);
    }
    return info;
  }

  private writer(info: TopicInfo, partition: number): PartitionWriter {
    const key = `${info.name}/${partition}`;
    let w = this.writers.get(key);
    if (w === undefined) {
      const ref = { topic: info.name, partition, dir: partitionDir(this.dir, info.name, partition) };
      try {
        w = new PartitionWriter(ref, {
          segmentBytes: this.segmentBytes,
          fsync: this.fsync,
          clock: this.clock,
          onSync: this.onSync,
        });
      } catch (err) {
        // The topic was deleted (by another process) since this process read its metadata.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.topics.delete(info.name);
        throw notFound(info.name, this.dir);
      }
      this.writers.set(key, w);
      w.applyRetention(info);
    }
    return w;
  }

  private reader(info: TopicInfo, partition: number): PartitionReader {
    const key = `${info.name}/${partition}`;
    let r = this.readers.get(key);
    if (r === undefined) {
      r = new PartitionReader({
        topic: info.name,
        partition,
        dir: partitionDir(this.dir, info.name, partition),
      });
      this.readers.set(key, r);
    }
    return r;
  }

  async produce(records: ProduceRecord[]): Promise<ProduceResult[]> {
    if (this.closed) throw new TributaryError('INTERNAL', `produce on a closed log (${this.description})`);
    const now = this.clock.now();
    const groups = routeRecords(records, (name) => this.topic(name), this.roundRobin);
    const results: ProduceResult[] = new Array(records.length);
    for (const g of groups.values()) {
      const w = this.writer(g.info, g.partition);
      const rolledBefore = w.rolls;
      const first = w.append(g.recs, now);
      for (let j = 0; j < g.at.length; j++) {
        results[g.at[j]] = { topic: g.info.name, partition: g.partition, offset: first + j };
      }
      if (w.rolls !== rolledBefore) w.applyRetention(g.info);
      this.waiter.notify(w.ref.dir);
    }
    return results;
  }

  private limits(offset: number, options: FetchOptions | undefined): Limits {
    return {
      from: offset,
      maxRecords: Math.max(1, options?.maxRecords ?? DEFAULT_MAX_RECORDS),
      maxBytes: Math.max(1, options?.maxBytes ?? DEFAULT_MAX_BYTES),
    };
  }

  private chunkFor(limits: Limits): number {
    return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, limits.maxBytes + MIN_CHUNK));
  }

  /** Runs `attempt` until it finds records or maxWaitMs has passed. */
  private async poll<T extends { count: number }>(
    dir: string,
    options: FetchOptions | undefined,
    attempt: () => T,
  ): Promise<T> {
    const wait = options?.maxWaitMs ?? 0;
    const deadline = performance.now() + wait;
    for (;;) {
      const res = attempt();
      const left = deadline - performance.now();
      if (res.count > 0 || left <= 0 || this.closed) return res;
      await this.waiter.wait(dir, left);
    }
  }

  private highWatermark(
    info: TopicInfo,
    partition: number,
    reader: PartitionReader,
    atEnd: number | undefined,
  ) {
    const w = this.writers.get(`${info.name}/${partition}`);
    if (w !== undefined) return w.nextOffset;
    return atEnd ?? reader.latest();
  }

  async fetch(
    topic: string,
    partition: number,
    offset: number,
    options?: FetchOptions,
  ): Promise<FetchResult> {
    const info = this.topic(topic);
    checkPartition(info, partition);
    const reader = this.reader(info, partition);
    const limits = this.limits(offset, options);
    const res = await this.poll(reader.ref.dir, options, () => {
      const c = recordCollector(limits);
      const out = reader.read(offset, this.chunkFor(limits), undefined, c.visit);
      reader.setNext(c.next());
      const hw = this.highWatermark(info, partition, reader, out.atEnd ? out.endOffset : undefined);
      return { count: c.records.length, records: c.records, nextOffset: c.next(), hw };
    });
    return { topic, partition, records: res.records, nextOffset: res.nextOffset, highWatermark: res.hw };
  }

  async fetchValues(
    topic: string,
    partition: number,
    offset: number,
    options?: FetchOptions,
  ): Promise<ValueBatch> {
    const info = this.topic(topic);
    checkPartition(info, partition);
    const reader = this.reader(info, partition);
    const limits = this.limits(offset, options);
    const chunk = this.chunkFor(limits);
    const res = await this.poll(reader.ref.dir, options, () => {
      if (this.scratch.length < chunk) this.scratch = Buffer.allocUnsafe(chunk);
      const c = new ValueCollector(limits, chunk);
      const out = reader.read(offset, chunk, this.scratch, c.visit);
      reader.setNext(c.next);
      const hw = this.highWatermark(info, partition, reader, out.atEnd ? out.endOffset : undefined);
      return { count: c.count, c, hw };
    });
    const c = res.c;
    return {
      topic,
      partition,
      count: c.count,
      values: c.values.subarray(0, c.length),
      offsets: c.offsets.subarray(0, c.count),
      timestamps: c.timestamps.subarray(0, c.count),
      ends: c.ends.subarray(0, c.count),
      nextOffset: c.next,
      highWatermark: res.hw,
    };
  }

  async offsets(topic: string, partition: number): Promise<PartitionOffsets> {
    const info = this.topic(topic);
    checkPartition(info, partition);
    const reader = this.reader(info, partition);
    return { earliest: reader.earliest(), latest: this.highWatermark(info, partition, reader, undefined) };
  }

  endsNow(topic: string, partitions: readonly number[]): number[] {
    const info = this.topic(topic);
    return partitions.map((p) => {
      checkPartition(info, p);
      return this.highWatermark(info, p, this.reader(info, p), undefined);
    });
  }

  async commitOffsets(
    group: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    for (const o of offsets) {
      checkPartition(this.topic(o.topic), o.partition);
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new TributaryError('INPUT_INVALID', `cannot commit offset ${o.offset} for group '${group}'`, {
          group,
          ...o,
        });
      }
    }
    for (const o of offsets) {
      writeCommittedOffset(this.dir, group, o.topic, o.partition, o.offset, this.fsync !== 'never');
    }
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    return readCommittedOffsets(this.dir, group, topic);
  }

  /** Applies retention to every partition this process writes; returns how many segments were deleted. */
  enforceRetention(): number {
    let deleted = 0;
    for (const w of this.writers.values()) {
      try {
        deleted += w.applyRetention(readTopic(this.dir, w.ref.topic));
      } catch {
        // A topic deleted meanwhile: nothing to keep.
      }
    }
    return deleted;
  }

  /** Topic creation and deletion are synced unless the policy is `never`. */
  private syncOptions(): { durable: boolean; onSync?: SyncObserver } {
    return { durable: this.fsync !== 'never', onSync: this.onSync };
  }

  private syncAll(): void {
    for (const w of this.writers.values()) w.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const w of this.writers.values()) w.close();
    this.writers.clear();
    this.readers.clear();
  }
}

export function embeddedLogDir(dataDir: string): string {
  return join(dataDir, 'log');
}
