/**
 * Turns fetched record values into one NDJSON file that DuckDB's JSON reader loads in
 * bulk (ARCHITECTURE.md: per-record work stays out of JavaScript). Each line wraps one
 * record with its source position:
 *
 *   {"o":<offset>,"p":<partition>,"t":<record timestamp ms>,"v":<value bytes as they are>}
 *
 * The position comes first because DuckDB keeps the first of duplicate keys: a value
 * cannot override its own offset. A value that is not valid JSON breaks its line; the
 * JSON reader (with ignore_errors) then yields an all-NULL row, and the runtime finds
 * those records by their missing offsets and explains them record by record.
 */
import { isUtf8 } from 'node:buffer';
import type { ValueBatch } from '../log/log.ts';

export interface BatchFile {
  bytes: Buffer;
  records: number;
  /** Bytes of the longest line (the JSON reader's object size bound must cover it). */
  longest: number;
}

/**
 * Appends the lines of `batches` into one buffer, one batch (partition) per turn of the
 * event loop, so that other work's callbacks are not held up for the whole file.
 */
export async function buildBatchFile(batches: readonly ValueBatch[]): Promise<BatchFile> {
  let size = 0;
  let records = 0;
  for (const b of batches) {
    size += b.values.length + b.count * 64;
    records += b.count;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  let longest = 0;
  for (const b of batches) {
    await new Promise<void>((r) => setImmediate(r));
    const values = Buffer.from(b.values.buffer, b.values.byteOffset, b.values.byteLength);
    // JSON must be UTF-8; DuckDB rejects a whole file otherwise. Checking the batch at once
    // is native and fast; only a batch that fails is checked record by record.
    const allUtf8 = isUtf8(values);
    const partitionPart = `,"p":${b.partition},"t":`;
    let start = 0;
    for (let i = 0; i < b.count; i++) {
      const end = b.ends[i];
      const lineStart = pos;
      // Digits written by hand: a template string per record costs more than the copy.
      out[pos++] = 0x7b; // {
      pos += out.write('"o":', pos, 'latin1');
      pos = writeInt(out, pos, b.offsets[i]);
      pos += out.write(partitionPart, pos, 'latin1');
      pos = writeInt(out, pos, b.timestamps[i]);
      pos += out.write(',"v":', pos, 'latin1');
      if (allUtf8 || isUtf8(values.subarray(start, end))) pos += values.copy(out, pos, start, end);
      out[pos++] = 0x7d; // }
      out[pos++] = 0x0a; // \n
      if (pos - lineStart > longest) longest = pos - lineStart;
      start = end + 1; // skip the value's own '\n'
    }
  }
  return { bytes: out.subarray(0, pos), records, longest };
}

const digits = new Uint8Array(24);

/** Writes a non-negative integer's decimal digits at `pos`; returns the position after them. */
function writeInt(out: Buffer, pos: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return pos + out.write(String(Math.floor(n)), pos, 'latin1');
  let len = 0;
  do {
    digits[len++] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  while (len > 0) out[pos++] = digits[--len];
  return pos;
}
