/**
 * The single writer of one partition: holds the partition's lock, recovers the active
 * segment on open (truncating a torn tail), appends whole batches with one write each,
 * rolls segments by size and deletes old segments by retention.
 *
 * Durability (docs/log.md, "Flush policy"): a batch is acknowledged after its write
 * returned (process crash safe), and with `fsync: 'always'` also after fdatasync
 * (machine crash safe). A sync covers, in this order, the segment's new bytes, the
 * index entries written since the last sync, and the partition directory when files
 * were created in it (a new segment and index on roll or on open, a seal): a new name
 * survives a machine crash only once its directory is synced. `interval` runs the same
 * sync on a timer; rolled segments and their seals are synced at the roll unless the
 * policy is `never`. Appends are synchronous, so offsets are assigned in call order
 * without a queue.
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.ts';
import { crashPoint } from '../../core/crash-points.ts';
import { TributaryError } from '../../core/errors.ts';
import { type SyncObserver, syncDirSync } from '../../core/fsync.ts';
import type { TopicInfo } from '../log.ts';
import {
  BATCH_PREFIX,
  BODY_HEADER,
  type EncodableRecord,
  encodeBatch,
  recordSize,
  TARGET_BATCH_BYTES,
} from './batch-format.ts';
import { acquireLock, type HeldLock } from './lock.ts';
import { INDEX_INTERVAL, listSegments, readSeal, type Seal, segmentName } from './segment-files.ts';
import { type PartitionRef, scanSegment } from './segment-scan.ts';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface WriterOptions {
  segmentBytes: number;
  fsync: FsyncPolicy;
  clock: Clock;
  onSync?: SyncObserver;
}

function writeFully(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

export class PartitionWriter {
  readonly ref: PartitionRef;
  private readonly opts: WriterOptions;
  private readonly lock: HeldLock;
  private base = 0;
  private fd = -1;
  private idxFd = -1;
  private size = 0;
  private idxSize = 0;
  private lastIndexed = -Infinity;
  private maxTimestamp = -Infinity;
  private next = 0;
  /** Segment bytes, index entries, directory entries written since the last sync. */
  private dirty = false;
  private idxDirty = false;
  private dirDirty = false;
  private closed = false;
  /** How many times a segment was rolled (so the owner knows when to apply retention). */
  rolls = 0;

  constructor(ref: PartitionRef, opts: WriterOptions) {
    this.ref = ref;
    this.opts = opts;
    this.lock = acquireLock(join(ref.dir, 'writer.lock'), `topic '${ref.topic}' partition ${ref.partition}`, {
      topic: ref.topic,
      partition: ref.partition,
    });
    try {
      this.recover();
    } catch (err) {
      this.closeFiles();
      this.lock.release();
      throw err;
    }
  }

  /** The offset the next appended record gets. */
  get nextOffset(): number {
    return this.next;
  }

  /** Seals segments a crash left unsealed, then validates the active segment and cuts off a torn tail. */
  private recover(): void {
    const { dir } = this.ref;
    let bases = listSegments(dir);
    if (bases.length === 0) {
      writeFileSync(join(dir, segmentName(0, 'log')), '');
      bases = [0];
    }
    // The index is rewritten below (and perhaps a segment or seal created): sync the
    // directory with the next sync.
    this.dirDirty = true;
    for (let i = 0; i < bases.length - 1; i++) {
      if (readSeal(dir, bases[i]) === undefined) this.writeSeal(bases[i], this.scanForSeal(bases[i], false));
    }
    this.base = bases[bases.length - 1];
    const file = join(dir, segmentName(this.base, 'log'));
    const entries: number[] = [];
    let lastIndexed = -Infinity;
    let maxTs = -Infinity;
    const res = scanSegment(
      this.ref,
      file,
      0,
      { chunkBytes: 4 * 1024 * 1024, isLast: true, expectedOffset: this.base },
      (_buf, _pos, b, at) => {
        if (at - lastIndexed >= INDEX_INTERVAL) {
          entries.push(b.baseOffset - this.base, at);
          lastIndexed = at;
        }
        if (b.maxTimestamp > maxTs) maxTs = b.maxTimestamp;
        return true;
      },
    );
    this.fd = openSync(file, 'r+');
    if (res.torn) {
      ftruncateSync(this.fd, res.endPosition);
      this.dirty = true;
    }
    this.size = res.endPosition;
    this.next = res.endOffset >= 0 ? res.endOffset : this.base;
    this.maxTimestamp = maxTs;
    this.rebuildIndex(entries, lastIndexed);
  }

  private rebuildIndex(entries: number[], lastIndexed: number): void {
    const idx = Buffer.alloc(entries.length * 4);
    for (let i = 0; i < entries.length; i++) idx.writeUInt32LE(entries[i], i * 4);
    const idxPath = join(this.ref.dir, segmentName(this.base, 'idx'));
    writeFileSync(idxPath, idx);
    this.idxFd = openSync(idxPath, 'r+');
    this.idxSize = idx.length;
    this.idxDirty = true;
    this.lastIndexed = lastIndexed;
  }

  private scanForSeal(base: number, isLast: boolean): Seal {
    let maxTimestamp = -Infinity;
    const file = join(this.ref.dir, segmentName(base, 'log'));
    const res = scanSegment(
      this.ref,
      file,
      0,
      { chunkBytes: 4 * 1024 * 1024, isLast, expectedOffset: base },
      (_b, _p, batch) => {
        if (batch.maxTimestamp > maxTimestamp) maxTimestamp = batch.maxTimestamp;
        return true;
      },
    );
    return { endOffset: res.endOffset >= 0 ? res.endOffset : base, bytes: res.endPosition, maxTimestamp };
  }

  /** Writes a segment's seal; synced (file, then directory) unless the policy is `never`. */
  private writeSeal(base: number, seal: Seal): void {
    const file = join(this.ref.dir, segmentName(base, 'seal'));
    const fd = openSync(file, 'w');
    try {
      writeFully(fd, Buffer.from(JSON.stringify(seal)), 0);
      if (this.opts.fsync !== 'never') {
        fdatasyncSync(fd);
        this.opts.onSync?.('file', file);
      }
    } finally {
      closeSync(fd);
    }
    this.dirDirty = true;
  }

  /**
   * Appends `records` as whole batches with one write; returns the first offset. Records
   * without a timestamp get `defaultTimestamp`.
   */
  append(records: EncodableRecord[], defaultTimestamp: number): number {
    if (this.closed)
      throw new TributaryError('INTERNAL', 'append on a closed partition writer', { ...this.ref });
    if (this.size >= this.opts.segmentBytes) this.roll();
    // Cut into batches of about TARGET_BATCH_BYTES; each batch holds at least one record.
    const cuts: number[] = [0];
    const bodies: number[] = [];
    let body = BODY_HEADER;
    let total = 0;
    for (let i = 0; i < records.length; i++) {
      const s = recordSize(records[i]);
      if (body > BODY_HEADER && body + s > TARGET_BATCH_BYTES) {
        cuts.push(i);
        bodies.push(body);
        total += BATCH_PREFIX + body;
        body = BODY_HEADER;
      }
      body += s;
    }
    cuts.push(records.length);
    bodies.push(body);
    total += BATCH_PREFIX + body;

    const out = Buffer.allocUnsafe(total);
    const idx: number[] = [];
    const first = this.next;
    let pos = 0;
    let offset = first;
    for (let b = 0; b < bodies.length; b++) {
      const from = cuts[b];
      const to = cuts[b + 1];
      const at = this.size + pos;
      if (at - this.lastIndexed >= INDEX_INTERVAL) {
        idx.push(offset - this.base, at);
        this.lastIndexed = at;
      }
      pos = encodeBatch(out, pos, records, from, to, offset, bodies[b], defaultTimestamp);
      offset += to - from;
    }
    for (const r of records) {
      const ts = r.timestamp ?? defaultTimestamp;
      if (ts > this.maxTimestamp) this.maxTimestamp = ts;
    }
    try {
      writeFully(this.fd, out, this.size);
    } catch (err) {
      // Leave no half batch behind: a later append would otherwise follow garbage.
      try {
        ftruncateSync(this.fd, this.size);
      } catch {}
      throw new TributaryError(
        'STORAGE_IO',
        `could not append to topic '${this.ref.topic}' partition ${this.ref.partition} (${this.ref.dir}): ${(err as Error).message}`,
        { ...this.ref },
        err,
      );
    }
    this.size += total;
    this.next = offset;
    this.dirty = true;
    crashPoint('log.append.written');
    if (idx.length > 0) {
      const ib = Buffer.allocUnsafe(idx.length * 4);
      for (let i = 0; i < idx.length; i++) ib.writeUInt32LE(idx[i], i * 4);
      writeFully(this.idxFd, ib, this.idxSize);
      this.idxSize += ib.length;
      this.idxDirty = true;
    }
    if (this.opts.fsync === 'always') this.sync();
    return first;
  }

  /**
   * Makes everything appended so far survive a machine crash: the segment's bytes, then
   * the index, then the directory's entries (data first, so a durable index entry never
   * points past durable data).
   */
  sync(): void {
    if (this.fd < 0) return;
    const onSync = this.opts.onSync;
    if (this.dirty) {
      fdatasyncSync(this.fd);
      this.dirty = false;
      onSync?.('file', join(this.ref.dir, segmentName(this.base, 'log')));
    }
    if (this.idxDirty) {
      fdatasyncSync(this.idxFd);
      this.idxDirty = false;
      onSync?.('file', join(this.ref.dir, segmentName(this.base, 'idx')));
    }
    if (this.dirDirty) {
      syncDirSync(this.ref.dir);
      this.dirDirty = false;
      onSync?.('dir', this.ref.dir);
    }
  }

  /** Seals the active segment and starts a new one at the next offset. */
  private roll(): void {
    this.rolls++;
    // The sealed segment is complete on disk before anything goes into the next one.
    if (this.opts.fsync !== 'never') this.sync();
    this.writeSeal(this.base, { endOffset: this.next, bytes: this.size, maxTimestamp: this.maxTimestamp });
    crashPoint('log.roll.sealed');
    this.closeFiles();
    this.base = this.next;
    const file = join(this.ref.dir, segmentName(this.base, 'log'));
    this.fd = openSync(file, 'w+');
    crashPoint('log.roll.created');
    this.size = 0;
    this.maxTimestamp = -Infinity;
    this.rebuildIndex([], -Infinity);
    // The new segment's and index's names: synced with the append that rolled ('always'),
    // or by the next timer sync ('interval').
    this.dirDirty = true;
  }

  /**
   * Deletes whole sealed segments (never the active one), oldest first: those whose newest
   * record is older than retentionMs, then as many as needed to bring the partition
   * within retentionBytes. Returns how many were deleted.
   */
  applyRetention(topic: TopicInfo): number {
    if (topic.retentionMs === undefined && topic.retentionBytes === undefined) return 0;
    const { dir } = this.ref;
    const sealed = listSegments(dir).filter((b) => b < this.base);
    let total = this.size;
    const sizes = new Map<number, number>();
    for (const b of sealed) {
      const s = statSync(join(dir, segmentName(b, 'log')), { throwIfNoEntry: false })?.size ?? 0;
      sizes.set(b, s);
      total += s;
    }
    const cutoff = topic.retentionMs === undefined ? -Infinity : this.opts.clock.now() - topic.retentionMs;
    let deleted = 0;
    for (const b of sealed) {
      const seal = readSeal(dir, b) ?? this.scanForSeal(b, false);
      const expired = seal.maxTimestamp < cutoff;
      const tooBig = topic.retentionBytes !== undefined && total > topic.retentionBytes;
      if (!expired && !tooBig) break;
      // The .log goes first: readers discover segments by their .log file.
      rmSync(join(dir, segmentName(b, 'log')), { force: true });
      rmSync(join(dir, segmentName(b, 'idx')), { force: true });
      rmSync(join(dir, segmentName(b, 'seal')), { force: true });
      total -= sizes.get(b) ?? 0;
      deleted++;
    }
    return deleted;
  }

  /** Size in bytes of the active segment (for tests and metrics). */
  get activeBytes(): number {
    return fstatSync(this.fd).size;
  }

  private closeFiles(): void {
    if (this.fd >= 0) closeSync(this.fd);
    if (this.idxFd >= 0) closeSync(this.idxFd);
    this.fd = -1;
    this.idxFd = -1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.opts.fsync !== 'never') this.sync();
    this.closeFiles();
    this.lock.release();
  }
}
