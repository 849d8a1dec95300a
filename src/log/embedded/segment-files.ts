/**
 * Names and side files of one partition's segments:
 *
 *   <partition dir>/<base offset, 20 digits>.log   batches (batch-format.ts)
 *   <partition dir>/<base offset, 20 digits>.idx   sparse index: (relative offset u32, position u32)
 *                                                  for a batch start every INDEX_INTERVAL bytes
 *   <partition dir>/<base offset, 20 digits>.seal  JSON {endOffset, bytes, maxTimestamp}, written
 *                                                  when the segment is rolled (it never grows again)
 *
 * The index is only a hint for where to start scanning: every entry points at a batch
 * start that was written before the entry, so a reader never trusts it past the data.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const INDEX_INTERVAL = 4096;
export const INDEX_ENTRY = 8;

export function segmentName(base: number, ext: 'log' | 'idx' | 'seal'): string {
  return `${String(base).padStart(20, '0')}.${ext}`;
}

/** Base offsets of the segments in `dir`, oldest first. A missing directory has none. */
export function listSegments(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const bases: number[] = [];
  for (const n of names) {
    if (n.length === 24 && n.endsWith('.log')) bases.push(Number(n.slice(0, 20)));
  }
  return bases.sort((a, b) => a - b);
}

export interface Seal {
  /** The offset after the segment's last record (the next segment's base). */
  endOffset: number;
  bytes: number;
  maxTimestamp: number;
}

export function readSeal(dir: string, base: number): Seal | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, segmentName(base, 'seal')), 'utf8')) as Seal;
  } catch {
    return undefined;
  }
}

/** The sparse index of a segment; entries past `fileSize` (left by a truncation) are dropped. */
export function readIndex(dir: string, base: number, fileSize: number): Uint32Array {
  let raw: Buffer;
  try {
    raw = readFileSync(join(dir, segmentName(base, 'idx')));
  } catch {
    return new Uint32Array(0);
  }
  const n = Math.floor(raw.length / INDEX_ENTRY);
  const out = new Uint32Array(n * 2);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const rel = raw.readUInt32LE(i * INDEX_ENTRY);
    const pos = raw.readUInt32LE(i * INDEX_ENTRY + 4);
    if (pos >= fileSize) break;
    out[k++] = rel;
    out[k++] = pos;
  }
  return out.subarray(0, k);
}

/** The position of the last indexed batch starting at or before `relOffset` (0 if none). */
export function lookupIndex(index: Uint32Array, relOffset: number): number {
  let lo = 0;
  let hi = index.length / 2 - 1;
  let best = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (index[mid * 2] <= relOffset) {
      best = index[mid * 2 + 1];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}
