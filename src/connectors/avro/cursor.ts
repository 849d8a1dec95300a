/**
 * Reading Avro's binary encoding from a record's bytes, with its bounds checked: a body
 * cut short, a length or index out of range, throws AvroRecordError (the record goes to
 * the dead-letter queue; the batch goes on).
 *
 * Avro's int and long are zig-zag varints. Values within ±2^53 come back as numbers;
 * wider longs (rare: ids, not times) come back as NaN with the exact value in `wide`.
 */

/** Why one record cannot be read: the rule (`avro_body`, `avro_resolve`) and a message. */
export class AvroRecordError extends Error {
  readonly rule: string;
  constructor(rule: string, message: string) {
    super(message);
    this.rule = rule;
  }
}

const EMPTY = new Uint8Array(0);

export class Cursor {
  buf: Uint8Array = EMPTY;
  view: DataView = new DataView(EMPTY.buffer);
  pos = 0;
  end = 0;
  /** A long outside ±2^53 (when `long()` returned NaN). */
  wide = 0n;

  /** Points at `buf[pos, end)`; `view` is a DataView over the same buffer. */
  reset(buf: Uint8Array, view: DataView, pos: number, end: number): void {
    this.buf = buf;
    this.view = view;
    this.pos = pos;
    this.end = end;
  }

  truncated(what: string): AvroRecordError {
    return new AvroRecordError(
      'avro_body',
      `the body ends in the middle of ${what} (truncated or not written with the schema its id names)`,
    );
  }

  long(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let n = 0;
    let m = 1;
    let b: number;
    do {
      if (pos >= end) throw this.truncated('a number');
      b = buf[pos++];
      n += (b & 0x7f) * m;
      m *= 128;
    } while (b & 0x80 && m < 0x100000000000000);
    // Longer than 8 bytes, or n past 2^53 (not exact as a double): the BigInt path.
    if (b & 0x80 || n > Number.MAX_SAFE_INTEGER) return this.wideLong();
    this.pos = pos;
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  /** The varint at `pos` with BigInt arithmetic; NaN, with the value in `wide`. */
  private wideLong(): number {
    const buf = this.buf;
    let pos = this.pos;
    let n = 0n;
    let shift = 0n;
    let b: number;
    do {
      if (pos >= this.end) throw this.truncated('a number');
      if (shift > 63n)
        throw new AvroRecordError('avro_body', 'a number is longer than 10 bytes (not an Avro long)');
      b = buf[pos++];
      n |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    this.pos = pos;
    n = BigInt.asUintN(64, n);
    this.wide = n & 1n ? -(n >> 1n) - 1n : n >> 1n;
    const v = Number(this.wide);
    if (Number.isSafeInteger(v)) return v;
    return Number.NaN;
  }

  /** A length or count: a long from 0 up to what is left (or `max`). */
  length(what: string): number {
    const n = this.long();
    if (!(n >= 0))
      throw new AvroRecordError(
        'avro_body',
        `${what} has a negative or impossible length (${Number.isNaN(n) ? this.wide : n})`,
      );
    if (this.pos + n > this.end) throw this.truncated(what);
    return n;
  }

  float(): number {
    if (this.pos + 4 > this.end) throw this.truncated('a float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw this.truncated('a double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  boolean(): boolean {
    if (this.pos >= this.end) throw this.truncated('a boolean');
    const b = this.buf[this.pos++];
    if (b > 1) throw new AvroRecordError('avro_body', `a boolean is written as byte 0 or 1, got ${b}`);
    return b === 1;
  }

  skip(n: number, what: string): void {
    if (this.pos + n > this.end) throw this.truncated(what);
    this.pos += n;
  }
}
