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
  const w: Writer = {
    out: Buffer.allocUnsafe(size),
    pos: 0,
    lines: 0,
    longest: 0,
    lineBatch: new Uint32Array(total),
    lineRecord: new Uint32Array(total),
    refused: [],
  };
  for (let bi = 0; bi < batches.length; bi++) {
    const b = batches[bi];
    await new Promise<void>((r) => setImmediate(r));
    const values = Buffer.from(b.values.buffer, b.values.byteOffset, b.values.byteLength);
    // Checking the whole batch's UTF-8 at once is native and fast; only a batch that
    // fails is checked record by record.
    const allUtf8 = isUtf8(values);
    const partitionPart = Buffer.from(`,"p":${b.partition},"t":`, 'latin1');
    // Checking values is the event loop's longest task: let other work's callbacks
    // (the sinks' DuckDB statements finishing) run every thousand or so records.
    for (let from = 0; from < b.count; from += YIELD_EVERY) {
      if (from > 0) await new Promise<void>((r) => setImmediate(r));
      appendLines(
        w,
        b,
        bi,
        values,
        allUtf8,
        partitionPart,
        strict,
        from,
        Math.min(b.count, from + YIELD_EVERY),
      );
    }
  }
  return {
    bytes: w.out.subarray(0, w.pos),
    records: w.lines,
    longest: w.longest,
    lineBatch: w.lineBatch.subarray(0, w.lines),
    lineRecord: w.lineRecord.subarray(0, w.lines),
    refused: w.refused,
  };
}

/** The file being built. */
interface Writer {
  out: Buffer;
  pos: number;
  lines: number;
  longest: number;
  lineBatch: Uint32Array;
  lineRecord: Uint32Array;
  refused: RejectedRecord[];
}

/**
 * Checks records [from, to) of batch `bi` and appends the lines of those that pass.
 * A plain function: its loop is optimized better than one inside the async caller
 * (200,000 records of ~150 bytes: 73 → 53 ms without the strict check).
 */
function appendLines(
  w: Writer,
  b: ValueBatch,
  bi: number,
  values: Buffer,
  allUtf8: boolean,
  partitionPart: Buffer,
  strict: StrictJsonChecker,
  from: number,
  to: number,
): void {
  const out = w.out;
  let pos = w.pos;
  let start = from === 0 ? 0 : b.ends[from - 1] + 1;
  for (let i = from; i < to; i++) {
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
      w.refused.push({
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
    // Bytes written by hand: a template string or a Buffer.write per record costs more.
    for (let k = 0; k < OFFSET_PART.length; k++) out[pos++] = OFFSET_PART[k];
    pos = writeInt(out, pos, b.offsets[i]);
    for (let k = 0; k < partitionPart.length; k++) out[pos++] = partitionPart[k];
    pos = writeInt(out, pos, b.timestamps[i]);
    for (let k = 0; k < VALUE_PART.length; k++) out[pos++] = VALUE_PART[k];
    const valueAt = pos;
    pos += values.copy(out, pos, start, end);
    if (strict.sawNewline) {
      for (let k = valueAt; k < pos; k++) if (out[k] === 0x0a || out[k] === 0x0d) out[k] = 0x20;
    }
    out[pos++] = 0x7d; // }
    out[pos++] = 0x0a; // \n
    if (pos - lineStart > w.longest) w.longest = pos - lineStart;
    w.lineBatch[w.lines] = bi;
    w.lineRecord[w.lines] = i;
    w.lines++;
    start = end + 1;
  }
  w.pos = pos;
}

const OFFSET_PART = Buffer.from('{"o":', 'latin1');
const VALUE_PART = Buffer.from(',"v":', 'latin1');

/** Records checked between two turns of the event loop. */
const YIELD_EVERY = 1024;

const digits = new Uint8Array(24);

/** Writes a non-negative integer's decimal digits at `pos`; returns the position after them. */
function writeInt(out: Buffer, pos: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return pos + out.write(String(Math.floor(n)), pos, 'latin1');
  // In int32 arithmetic: a double's % and / by 10 (a timestamp in ms is past 2^31) are
  // several times slower. Above 10^9, the high part first, then 9 digits of the low one.
  if (n >= 1e9) {
    const hi = Math.floor(n / 1e9);
    pos = writeSmall(out, pos, hi, 0);
    return writeSmall(out, pos, n - hi * 1e9, 9);
  }
  return writeSmall(out, pos, n, 0);
}

/** Writes `n` (0 ≤ n < 10^9) with at least `width` digits (leading zeros). */
function writeSmall(out: Buffer, pos: number, n: number, width: number): number {
  let v = n | 0;
  let len = 0;
  do {
    const q = (v / 10) | 0;
    digits[len++] = 0x30 + (v - q * 10);
    v = q;
  } while (v > 0);
  while (len < width) digits[len++] = 0x30;
  while (len > 0) out[pos++] = digits[--len];
  return pos;
}
