/**
 * Reads one partition's segments: finds the segment and position of an offset (from the
 * reader's own cursor for sequential consumers, else from the sparse index), walks
 * validated batches and hands each one to a visitor. Works while another process
 * appends: whatever is not a whole, checksummed batch yet is "not there yet".
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { BATCH_PREFIX, BODY_HEADER, MAX_BATCH_BYTES } from './batch-format.ts';
import { listSegments, lookupIndex, readIndex, segmentName } from './segment-files.ts';
import { type BatchVisitor, type PartitionRef, readFully, scanSegment } from './segment-scan.ts';

interface Cursor {
  /** The offset a read starting here is for. */
  offset: number;
  segment: number;
  /** File position of a batch start at or before `offset`. */
  position: number;
  /** Base offset of the batch at `position`. */
  batchOffset: number;
}

interface Stop {
  segment: number;
  batchPos: number;
  batchOffset: number;
  endPos: number;
  endOffset: number;
}

export interface ReadOutcome {
  /** Offset after the last batch the visitor accepted or was given, or the start offset. */
  endOffset: number;
  /** True when the read reached the end of the data. */
  atEnd: boolean;
}

export class PartitionReader {
  readonly ref: PartitionRef;
  /** Where the batch holding the next expected offset starts, from the previous read. */
  private cursor: Cursor | undefined;
  /** The furthest end of data seen in the last segment, so finding the end is incremental. */
  private tail: Cursor | undefined;
  private stop: Stop | undefined;
  private readonly header = Buffer.allocUnsafe(BATCH_PREFIX + BODY_HEADER);

  constructor(ref: PartitionRef) {
    this.ref = ref;
  }

  /** The oldest offset still held. */
  earliest(): number {
    const bases = listSegments(this.ref.dir);
    return bases.length === 0 ? 0 : bases[0];
  }

  /**
   * The offset after the last whole batch in the partition. Hops from batch header to
   * batch header without checksums: this only finds the end; data is always verified
   * when it is read.
   */
  latest(): number {
    const bases = listSegments(this.ref.dir);
    if (bases.length === 0) return 0;
    const last = bases[bases.length - 1];
    let pos = 0;
    let offset = last;
    if (this.tail !== undefined && this.tail.segment === last) {
      pos = this.tail.position;
      offset = this.tail.offset;
    }
    let fd: number;
    try {
      fd = openSync(join(this.ref.dir, segmentName(last, 'log')), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.latest();
      throw err;
    }
    try {
      const h = this.header;
      for (;;) {
        if (readFully(fd, h, h.length, pos) < h.length) break;
        const len = h.readUInt32LE(0);
        if (len < BODY_HEADER || len > MAX_BATCH_BYTES || h.readDoubleLE(BATCH_PREFIX) !== offset) break;
        // Whole only if its last byte is there.
        if (readFully(fd, h, 1, pos + BATCH_PREFIX + len - 1) < 1) break;
        offset += h.readUInt32LE(BATCH_PREFIX + 8);
        pos += BATCH_PREFIX + len;
      }
    } finally {
      closeSync(fd);
    }
    this.tail = { offset, segment: last, position: pos, batchOffset: offset };
    return offset;
  }

  /**
   * Visits validated batches from the one holding `offset` on. Throws LOG_OFFSET_OUT_OF_RANGE
   * for an offset before the earliest or after the end, LOG_CORRUPT for a bad batch.
   */
  read(offset: number, chunkBytes: number, scratch: Buffer | undefined, visit: BatchVisitor): ReadOutcome {
    for (let attempt = 0; ; attempt++) {
      try {
        return this.readOnce(offset, chunkBytes, scratch, visit);
      } catch (err) {
        // A segment deleted by retention between listing and opening: list again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue;
        throw err;
      }
    }
  }

  private readOnce(
    offset: number,
    chunkBytes: number,
    scratch: Buffer | undefined,
    visit: BatchVisitor,
  ): ReadOutcome {
    const { dir } = this.ref;
    const bases = listSegments(dir);
    if (bases.length === 0 || offset < bases[0] || !Number.isSafeInteger(offset)) {
      throw this.outOfRange(offset, bases[0] ?? 0);
    }
    let i = bases.length - 1;
    while (bases[i] > offset) i--;
    let expected = offset;
    this.stop = undefined;
    for (; i < bases.length; i++) {
      const base = bases[i];
      const isLast = i === bases.length - 1;
      const file = join(dir, segmentName(base, 'log'));
      let start = 0;
      let startOffset = base;
      const c = this.cursor;
      if (c !== undefined && c.offset === expected && c.segment === base) {
        start = c.position;
        startOffset = c.batchOffset;
      } else if (expected > base) {
        start = lookupIndex(readIndex(dir, base, Number.MAX_SAFE_INTEGER), expected - base);
        // From an index entry the scan sees that entry's batch unless it is torn.
        startOffset = start === 0 ? base : -1;
      }
      const opts = { chunkBytes, scratch, isLast, expectedOffset: expected };
      const onBatch: BatchVisitor = (buf, pos, batch, filePos) => {
        const end = batch.baseOffset + batch.count;
        if (end <= expected) return true;
        if (batch.baseOffset > expected) {
          throw new TributaryError(
            'LOG_CORRUPT',
            `topic '${this.ref.topic}' partition ${this.ref.partition}: offsets ${expected} to ${batch.baseOffset - 1} ` +
              `are missing from ${file}; the partition has a gap and cannot be read past it`,
            { ...this.ref, offset: expected, file, position: filePos },
          );
        }
        const go = visit(buf, pos, batch, filePos);
        if (!go) {
          this.stop = {
            segment: base,
            batchPos: filePos,
            batchOffset: batch.baseOffset,
            endPos: filePos + (batch.end - pos),
            endOffset: end,
          };
        }
        expected = end;
        return go;
      };
      let res: ReturnType<typeof scanSegment>;
      try {
        res = scanSegment(this.ref, file, start, opts, onBatch);
      } catch (err) {
        // An index entry may point past a truncation that was then overwritten: rescan from the start.
        if (!isTributaryError(err, 'LOG_CORRUPT') || start === 0 || err.details.position !== start) throw err;
        res = scanSegment(this.ref, file, 0, opts, onBatch);
      }
      if (this.stop !== undefined) return { endOffset: expected, atEnd: false };
      if (isLast) {
        const dataEnd = res.endOffset >= 0 ? res.endOffset : startOffset >= 0 ? startOffset : expected;
        if (offset > dataEnd) throw this.outOfRange(offset, bases[0]);
        this.tail = {
          offset: Math.max(dataEnd, expected),
          segment: base,
          position: res.endPosition,
          batchOffset: dataEnd,
        };
        this.cursor = this.tail;
        return { endOffset: expected, atEnd: true };
      }
      // A sealed segment must end exactly where the next one starts.
      if (expected !== bases[i + 1]) {
        throw new TributaryError(
          'LOG_CORRUPT',
          `topic '${this.ref.topic}' partition ${this.ref.partition}: segment ${file} ends at offset ${expected} ` +
            `but the next segment starts at ${bases[i + 1]}`,
          { ...this.ref, offset: expected, file },
        );
      }
    }
    return { endOffset: expected, atEnd: true };
  }

  /**
   * Tells the reader the offset its caller will ask for next, after a read the visitor
   * stopped (possibly in the middle of a batch), so a sequential consumer resumes without
   * a lookup and without re-reading a batch it finished.
   */
  setNext(next: number): void {
    const s = this.stop;
    if (s === undefined) return;
    this.cursor =
      next >= s.endOffset
        ? { offset: next, segment: s.segment, position: s.endPos, batchOffset: s.endOffset }
        : { offset: next, segment: s.segment, position: s.batchPos, batchOffset: s.batchOffset };
  }

  private outOfRange(offset: number, earliest: number): TributaryError {
    const latest = this.latest();
    return new TributaryError(
      'LOG_OFFSET_OUT_OF_RANGE',
      `offset ${offset} is outside topic '${this.ref.topic}' partition ${this.ref.partition} ` +
        `(earliest ${earliest}, latest ${latest}); fetch from an offset in that range`,
      { topic: this.ref.topic, partition: this.ref.partition, offset, earliest, latest },
    );
  }
}
