/**
 * Walks the batches of one segment file from a position, validating each one, and tells
 * a torn tail (the end of the data: a batch being written, or left half-written by a
 * crash) from corruption (a bad batch with valid data after it, or anywhere in a sealed
 * segment), which is reported as LOG_CORRUPT and never returned as data.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TributaryError } from '../../core/errors.ts';
import { BATCH_PREFIX, type BatchCheck, BODY_HEADER, checkBatch, validBatchFollows } from './batch-format.ts';

export interface PartitionRef {
  topic: string;
  partition: number;
  dir: string;
}

/** Called per valid batch; return false to stop. `buf` is only valid during the call unless the scan owns fresh buffers. */
export type BatchVisitor = (
  buf: Buffer,
  pos: number,
  batch: Extract<BatchCheck, { kind: 'ok' }>,
  filePosition: number,
) => boolean;

export interface ScanResult {
  /** True when the visitor stopped the scan. */
  stopped: boolean;
  /** Position after the last valid batch visited (or the start position). */
  endPosition: number;
  /** Offset after the last valid batch seen, or -1 if none was seen. */
  endOffset: number;
  /** True when the scan ended at an invalid tail (only possible in the last segment). */
  torn: boolean;
}

/** Largest tail that is inspected to decide torn-versus-corrupt. */
const MAX_TAIL_INSPECT = 64 * 1024 * 1024;

export function readFully(fd: number, buf: Buffer, len: number, pos: number): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

export function corruptError(
  ref: PartitionRef,
  file: string,
  position: number,
  offset: number,
  reason: string,
) {
  return new TributaryError(
    'LOG_CORRUPT',
    `corrupt batch in topic '${ref.topic}' partition ${ref.partition} at offset ${offset} ` +
      `(${file}, byte ${position}): ${reason}. The data there cannot be trusted; restore the partition ` +
      `from a replica or backup, or delete the segment and everything after it to truncate the partition.`,
    { topic: ref.topic, partition: ref.partition, offset, file, position, reason },
  );
}

export interface ScanOptions {
  /** Bytes read per chunk (grown when one batch is larger). */
  chunkBytes: number;
  /** Reuse this buffer for reads (the visitor must copy what it keeps). */
  scratch?: Buffer;
  /** Skip checksums (only to find the end of data quickly; never to return data). */
  verifyCrc?: boolean;
  /** Whether the segment is the partition's last (only there a torn tail is legitimate). */
  isLast: boolean;
  /** The offset the first batch at `start` must contain or come after (for error reports and sanity). */
  expectedOffset: number;
}

export function scanSegment(
  ref: PartitionRef,
  file: string,
  start: number,
  opts: ScanOptions,
  visit: BatchVisitor,
): ScanResult {
  const fd = openSync(file, 'r');
  try {
    return scanOpen(ref, fd, file, start, opts, visit);
  } finally {
    closeSync(fd);
  }
}

function scanOpen(
  ref: PartitionRef,
  fd: number,
  file: string,
  start: number,
  opts: ScanOptions,
  visit: BatchVisitor,
): ScanResult {
  let pos = start;
  // No bigger than what is in the file now: a tailing reader then reads (and allocates) only new data.
  let chunk = Math.max(Math.min(opts.chunkBytes, fstatSync(fd).size - start), BATCH_PREFIX + BODY_HEADER);
  let nextOffset = -1;
  const verify = opts.verifyCrc !== false;
  for (;;) {
    let buf =
      opts.scratch !== undefined && opts.scratch.length >= chunk ? opts.scratch : Buffer.allocUnsafe(chunk);
    if (opts.scratch !== undefined && buf !== opts.scratch) opts.scratch = buf;
    const n = readFully(fd, buf, chunk, pos);
    const atEof = n < chunk;
    if (n === 0) return { stopped: false, endPosition: pos, endOffset: nextOffset, torn: false };
    let p = 0;
    while (p < n) {
      const c = checkBatch(buf, p, n, verify);
      if (c.kind === 'ok') {
        if (nextOffset >= 0 && c.baseOffset !== nextOffset) {
          throw corruptError(ref, file, pos + p, nextOffset, `batch starts at offset ${c.baseOffset}`);
        }
        nextOffset = c.baseOffset + c.count;
        if (!visit(buf, p, c, pos + p))
          return { stopped: true, endPosition: pos + c.end, endOffset: nextOffset, torn: false };
        p = c.end;
        continue;
      }
      if (c.kind === 'short' && !atEof) {
        if (p === 0) chunk = Math.max(chunk * 2, c.needed);
        break;
      }
      const at = nextOffset >= 0 ? nextOffset : opts.expectedOffset;
      const reason = c.kind === 'short' ? 'batch cut short by the end of the file' : c.reason;
      if (!opts.isLast) throw corruptError(ref, file, pos + p, at, reason);
      // Last segment: decide torn tail versus corruption by looking at what follows.
      if (c.kind === 'bad' && !atEof) {
        const rest = Math.min(fstatSync(fd).size - (pos + p), MAX_TAIL_INSPECT);
        buf = Buffer.allocUnsafe(rest);
        const got = readFully(fd, buf, rest, pos + p);
        if (validBatchFollows(buf, 1, got, at)) throw corruptError(ref, file, pos + p, at, reason);
      } else if (validBatchFollows(buf, p + 1, n, at)) {
        throw corruptError(ref, file, pos + p, at, reason);
      }
      return { stopped: false, endPosition: pos + p, endOffset: nextOffset, torn: true };
    }
    if (p === n && atEof) return { stopped: false, endPosition: pos + p, endOffset: nextOffset, torn: false };
    pos += p;
  }
}
