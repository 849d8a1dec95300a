/**
 * Turns fetched record values into one NDJSON file that DuckDB's JSON reader loads in
 * bulk (ARCHITECTURE.md: per-record work stays out of JavaScript). Each line wraps one
 * record with its source position:
 *
 *   {"o":<offset>,"p":<partition>,"t":<record timestamp ms>,"v":<value bytes as they are>}
 *
 * The position comes first because DuckDB keeps the first of duplicate keys: a value
 * cannot override its own offset.
 *
 * Every value is checked first by the contract's strict check (quality/strict-json.ts):
 * exactly one JSON object, valid UTF-8, nothing after it, no duplicate keys, the JSON
 * types the contract names. A value that fails is not written to the file; it is
 * refused here, with its original bytes and the reason (the byte offset included). So
 * DuckDB only sees values that are one well-formed object each, and the wrapper cannot
 * be extended by a value's trailing content. A value that passes may still hold a raw
 * line feed or carriage return, but only as whitespace between tokens (inside a string
 * it fails the check), where a space means the same: in the file it becomes a space.
 */
import { isUtf8 } from 'node:buffer';
import type { ValueBatch } from '../../log/log.ts';
import type { StrictJsonChecker } from '../../quality/strict-json.ts';
import { utf8ErrorAt } from '../../quality/utf8.ts';
import type { RejectedRecord } from '../../stream/types.ts';

export interface BatchFile {
  bytes: Buffer;
  /** Lines in the file (the records that passed the strict check). */
  records: number;
  /** Bytes of the longest line (the JSON reader's object size bound must cover it). */
  longest: number;
  /** Per line of the file: the index of its batch in `batches`, and of its record in the batch. */
  lineBatch: Uint32Array;
  lineRecord: Uint32Array;
  /** Records refused by the strict check, in batch order, with their original bytes. */
  refused: RejectedRecord[];
}

/**
 * Appends the lines of `batches` into one buffer, one batch (partition) per turn of the
 * event loop, so that other work's callbacks are not held up for the whole file.
 */
export async function buildBatchFile(
  batches: readonly ValueBatch[],
  strict: StrictJsonChecker,
): Promise<BatchFile> {
  let size = 0;
  let total = 0;
  for (const b of batches) {
    size += b.values.length + b.count * 64;
    total += b.count;
  }
  const out = Buffer.allocUnsafe(size);
  const lineBatch = new Uint32Array(total);
  const lineRecord = new Uint32Array(total);
  const refused: RejectedRecord[] = [];
  let lines = 0;
  let pos = 0;
  let longest = 0;
  for (let bi = 0; bi < batches.length; bi++) {
    const b = batches[bi];
    await new Promise<void>((r) => setImmediate(r));
    const values = Buffer.from(b.values.buffer, b.values.byteOffset, b.values.byteLength);
    // Checking the whole batch's UTF-8 at once is native and fast; only a batch that
    // fails is checked record by record.
    const allUtf8 = isUtf8(values);
    const partitionPart = `,"p":${b.partition},"t":`;
    let start = 0;
    for (let i = 0; i < b.count; i++) {
      // Checking values is the event loop's longest task: let other work's callbacks
      // (the sinks' DuckDB statements finishing) run every thousand or so records.
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
      const end = b.ends[i];
      const bad = allUtf8 || isUtf8(values.subarray(start, end)) ? -1 : utf8ErrorAt(values, start, end);
      if (bad >= 0 || !strict.check(values, start, end)) {
        const why =
          bad >= 0
            ? {
                field: '',
                rule: 'json',
                message: `not valid UTF-8: byte 0x${values[start + bad].toString(16).padStart(2, '0')} at byte ${bad} (JSON text must be UTF-8)`,
              }
            : strict.error();
        refused.push({
          partition: b.partition,
          offset: b.offsets[i],
          timestamp: b.timestamps[i],
          // A null value travels as an empty one: both are unusable.
          value: end === start ? null : values.subarray(start, end),
          field: why.field,
          rule: why.rule,
          message: why.message,
        });
        start = end + 1; // skip the value's own '\n'
        continue;
      }
      const lineStart = pos;
      // Digits written by hand: a template string per record costs more than the copy.
      out[pos++] = 0x7b; // {
      pos += out.write('"o":', pos, 'latin1');
      pos = writeInt(out, pos, b.offsets[i]);
      pos += out.write(partitionPart, pos, 'latin1');
      pos = writeInt(out, pos, b.timestamps[i]);
      pos += out.write(',"v":', pos, 'latin1');
      const valueAt = pos;
      pos += values.copy(out, pos, start, end);
      if (strict.sawNewline) {
        for (let k = valueAt; k < pos; k++) if (out[k] === 0x0a || out[k] === 0x0d) out[k] = 0x20;
      }
      out[pos++] = 0x7d; // }
      out[pos++] = 0x0a; // \n
      if (pos - lineStart > longest) longest = pos - lineStart;
      lineBatch[lines] = bi;
      lineRecord[lines] = i;
      lines++;
      start = end + 1;
    }
  }
  return {
    bytes: out.subarray(0, pos),
    records: lines,
    longest,
    lineBatch: lineBatch.subarray(0, lines),
    lineRecord: lineRecord.subarray(0, lines),
    refused,
  };
}

/** Records checked between two turns of the event loop. */
const YIELD_EVERY = 1024;

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
