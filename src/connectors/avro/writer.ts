/**
 * Avro's binary encoding, written into one growing buffer: zig-zag varints exact to 64
 * bits, length-prefixed bytes and UTF-8 strings, IEEE floats little-endian, and the
 * big-endian two's complement of a decimal's unscaled value.
 */

const textEncoder = new TextEncoder();

/** A growing buffer of Avro binary. */
export class AvroWriter {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  long(v: number | bigint): void {
    this.ensure(10);
    if (typeof v === 'number' && Number.isSafeInteger(v) && Math.abs(v) < 2 ** 52) {
      let n = v >= 0 ? v * 2 : -v * 2 - 1;
      while (n >= 0x80) {
        this.buf[this.pos++] = (n % 0x80) | 0x80;
        n = Math.floor(n / 0x80);
      }
      this.buf[this.pos++] = n;
      return;
    }
    const b = BigInt.asIntN(64, BigInt(v));
    let n = BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
  }

  bytes(b: Uint8Array): void {
    this.long(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  string(s: string): void {
    // At most 3 bytes per UTF-16 unit; the length goes first, so encode, then write.
    this.ensure(s.length * 3 + 10);
    const start = this.pos;
    this.pos += s.length < 22 ? 1 : 10;
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(this.pos));
    const lenBytes = varintSize(written);
    const reserved = this.pos - start;
    if (lenBytes !== reserved) this.buf.copyWithin(start + lenBytes, this.pos, this.pos + written);
    const end = start + lenBytes + written;
    this.pos = start;
    this.long(written);
    this.pos = end;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  boolean(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }
}

function varintSize(n: number): number {
  let z = n * 2;
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    size++;
  }
  return size;
}

/** Big-endian two's complement of an unscaled decimal, in as few bytes as keep its sign. */
export function decimalBytes(unscaled: bigint): Uint8Array {
  const out: number[] = [];
  let v = unscaled;
  for (;;) {
    const byte = Number(BigInt.asUintN(8, v));
    out.push(byte);
    v >>= 8n;
    if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
  }
  return Uint8Array.from(out.reverse());
}

/** The unscaled value of DECIMAL text (`-12.30`) at `scale`. */
export function unscaled(text: string, scale: number): bigint {
  const neg = text.startsWith('-');
  const t = neg ? text.slice(1) : text;
  const [int, frac = ''] = t.split('.');
  const digits = `${int}${frac.padEnd(scale, '0').slice(0, scale)}`;
  const v = BigInt(digits === '' ? '0' : digits);
  return neg ? -v : v;
}
