/**
 * The strict check of a record's value, run on the raw bytes before DuckDB parses them.
 *
 * DuckDB's JSON reader is lenient in ways that change data silently: it accepts `NaN`,
 * trailing commas and (because a value travels inside a wrapper line, batch-file.ts)
 * content after the object; it keeps the first of duplicate keys; it reads a number
 * into a text column as its text, `1e400` as infinity and 2^53 + 1 as 2^53. So every
 * value passes this check first, and a value that fails it goes to the dead-letter
 * queue with its bytes unchanged and a reason that names the byte offset:
 *
 * - exactly one JSON object (RFC 8259) with nothing but whitespace around it;
 * - no raw control character in a string, valid escapes, paired surrogate escapes;
 * - no duplicate key in any object (compared after unescaping);
 * - at most MAX_DEPTH levels of nesting;
 * - each field the contract names has the contract's JSON type (a number is not a
 *   string, `1.5` is not an integer, `1.0` is) unless the field opts in to `coerce`;
 *   integers within ±(2^53 - 1) (they are read exactly as doubles), finite numbers, and
 *   for numbers with `decimals` no more fractional digits than that, counted on the
 *   literal (so `10.999999999999999999` is refused, not rounded to 11.00).
 *
 * UTF-8 validity is checked separately (natively, a whole batch at a time; see
 * `utf8ErrorAt` in utf8.ts for the offset of the first bad byte).
 *
 * Written by hand because it runs on every byte of the hot path: one pass, no
 * allocation for a valid record (JSON.parse builds every object and cannot see
 * duplicate keys or tell `1.0` from `1`). Measured in bench/strict-json.ts.
 */
import type { DataContract, FieldSpec } from './contract.ts';
import {
  ANY,
  ARRAY,
  BOOLEAN,
  compileShape,
  type FieldShape,
  fnv,
  INTEGER,
  MAX_DEPTH,
  NUMBER,
  OBJECT,
  type ObjectShape,
  STRING,
  utf8,
} from './json-shape.ts';
import {
  describeFailure,
  E_CONTROL,
  E_DECIMALS,
  E_DEPTH,
  E_DUPLICATE,
  E_EMPTY,
  E_END,
  E_ESCAPE,
  E_INTEGER,
  E_NOT_OBJECT,
  E_NUMBER,
  E_RANGE,
  E_SURROGATE,
  E_TRAILING,
  E_TYPE,
  E_UNEXPECTED,
  type StrictJsonError,
} from './strict-json-errors.ts';

export { MAX_DEPTH } from './json-shape.ts';
export type { StrictJsonError } from './strict-json-errors.ts';

/**
 * A checker compiled from a contract. `check` returns true for an acceptable value;
 * after a false, `error()` explains it. Not reentrant (one scan at a time per checker).
 */
export class StrictJsonChecker {
  private readonly root: ObjectShape;
  // The scan's state: the bytes, the end of the value, and the error found.
  private b: Uint8Array = new Uint8Array(0);
  private base = 0;
  private end = 0;
  private code = 0;
  private at = 0;
  private detail = 0;
  private errField?: FieldShape;
  // The path to the value being scanned, for the error message: a field, or an array index (-1: field).
  private pathField: Array<FieldShape | undefined> = [];
  private pathIndex: number[] = [];
  private pathLen = 0;
  /** Whether the last accepted value had a raw line feed or carriage return (as whitespace between tokens). */
  sawNewline = false;
  // Keys of the objects being scanned: hash, start, end per key, a stack over all levels.
  private keyHash = new Int32Array(256);
  private keyStart = new Int32Array(256);
  private keyEnd = new Int32Array(256);
  private keyEscaped = new Uint8Array(256);
  private keys = 0;
  /** Counts object scans, for ObjectShape.seenIn. */
  private scans = 0;

  constructor(contract: DataContract | readonly FieldSpec[]) {
    this.root = compileShape('fields' in contract ? contract.fields : contract);
  }

  /** Checks bytes [start, end) of `bytes`. */
  check(bytes: Uint8Array, start: number, end: number): boolean {
    this.b = bytes;
    this.base = start;
    this.end = end;
    this.code = 0;
    this.keys = 0;
    this.pathLen = 0;
    this.errField = undefined;
    this.sawNewline = false;
    let i = this.ws(start);
    if (i >= end) return this.fail(start === end ? E_EMPTY : E_NOT_OBJECT, i);
    if (bytes[i] !== 0x7b) return this.fail(E_NOT_OBJECT, i);
    i = this.object(i, 1, this.root);
    if (i < 0) return false;
    if (bytes[i] <= 0x20) i = this.ws(i);
    if (i < end) return this.fail(E_TRAILING, i);
    return true;
  }

  /** Why the last checked value was refused. */
  error(): StrictJsonError {
    let field = '';
    for (let k = 0; k < this.pathLen; k++) {
      const pf = this.pathField[k];
      field += pf === undefined ? `[${this.pathIndex[k]}]` : field === '' ? pf.name : `.${pf.name}`;
    }
    return describeFailure({
      code: this.code,
      bytes: this.b,
      base: this.base,
      end: this.end,
      at: this.at,
      detail: this.detail,
      field,
      shape: this.errField,
    });
  }

  private raw(start: number, end: number): string {
    return Buffer.from(this.b.buffer, this.b.byteOffset + start, Math.max(0, end - start)).toString('utf8');
  }

  private fail(code: number, at: number, detail = 0): false {
    this.code = code;
    this.at = at;
    this.detail = detail;
    return false;
  }

  private ws(i: number): number {
    const b = this.b;
    const end = this.end;
    while (i < end) {
      const c = b[i];
      if (c === 0x20 || c === 0x09) i++;
      else if (c === 0x0a || c === 0x0d) {
        this.sawNewline = true;
        i++;
      } else break;
    }
    return i;
  }

  /**
   * An object at `i` ('{'); returns the position after it, or -1.
   *
   * Keys are matched to the shape's fields without hashing when they come in the
   * contract's order (as producers usually write them): each key is first compared with
   * the field after the previous one. A field met twice is a duplicate (`seenIn`); other
   * keys are hashed, looked up, and checked against the object's other unknown keys.
   */
  private object(i: number, depth: number, shape: ObjectShape | undefined): number {
    if (depth > MAX_DEPTH) return this.failN(E_DEPTH, i);
    const b = this.b;
    const end = this.end;
    const first = this.keys;
    if (this.scans === 0x3fffffff) this.resetScans(this.root);
    const scan = ++this.scans;
    let next = 0;
    i = i + 1;
    if (b[i] <= 0x20) i = this.ws(i);
    if (i < end && b[i] === 0x7d) return i + 1;
    for (;;) {
      if (i >= end) return this.failN(E_END, i);
      if (b[i] !== 0x22) return this.failN(E_UNEXPECTED, i);
      const keyStart = i + 1;
      let field: FieldShape | undefined;
      let j = keyStart;
      // The predicted field: its name's bytes, then the closing quote.
      if (shape !== undefined && next < shape.fields.length) {
        const f = shape.fields[next];
        const name = f.bytes;
        const n = name.length;
        if (keyStart + n < end && b[keyStart + n] === 0x22) {
          let k = 0;
          while (k < n && b[keyStart + k] === name[k]) k++;
          if (k === n) {
            field = f;
            j = keyStart + n;
          }
        }
      }
      if (field !== undefined) {
        if (shape!.seenIn[next] === scan) return this.failN(E_DUPLICATE, keyStart - 1, j + 1);
        shape!.seenIn[next] = scan;
        next++;
      } else {
        // The key: FNV-1a of its bytes, while looking for its end.
        let h = 0x811c9dc5 | 0;
        let escaped = 0;
        for (;;) {
          if (j >= end) return this.failN(E_END, j);
          const c = b[j];
          if (c === 0x22) break;
          if (c < 0x20) return this.failN(E_CONTROL, j);
          if (c === 0x5c) {
            escaped = 1;
            j = this.escape(j);
            if (j < 0) return -1;
            continue;
          }
          h = Math.imul(h ^ c, 0x01000193);
          j++;
        }
        if (escaped) h = fnv(utf8.encode(this.unescape(keyStart, j)));
        field = shape === undefined ? undefined : this.lookup(shape, h, keyStart, j, escaped);
        if (field !== undefined) {
          const idx = shape!.fields.indexOf(field);
          if (shape!.seenIn[idx] === scan) return this.failN(E_DUPLICATE, keyStart - 1, j + 1);
          shape!.seenIn[idx] = scan;
          next = idx + 1;
        } else if (!this.newKey(first, h, keyStart, j, escaped)) {
          return this.failN(E_DUPLICATE, keyStart - 1, j + 1);
        }
      }
      i = j + 1;
      if (b[i] <= 0x20) i = this.ws(i);
      if (i >= end) return this.failN(E_END, i);
      if (b[i] !== 0x3a) return this.failN(E_UNEXPECTED, i);
      i = i + 1;
      if (b[i] <= 0x20) i = this.ws(i);
      if (field !== undefined) {
        const at = this.pathLen;
        this.pathField[at] = field;
        this.pathLen = at + 1;
        i = this.typedValue(i, depth, field);
        if (i < 0) return -1;
        this.pathLen = at;
      } else {
        i = this.value(i, depth);
        if (i < 0) return -1;
      }
      if (b[i] <= 0x20) i = this.ws(i);
      if (i >= end) return this.failN(E_END, i);
      const c = b[i];
      if (c === 0x2c) {
        i = i + 1;
        if (b[i] <= 0x20) i = this.ws(i);
        continue;
      }
      if (c === 0x7d) {
        this.keys = first;
        return i + 1;
      }
      return this.failN(E_UNEXPECTED, i);
    }
  }

  /** Starts the scan numbers again (after a billion objects), forgetting every `seenIn`. */
  private resetScans(shape: ObjectShape): void {
    if (shape === this.root) this.scans = 0;
    shape.seenIn.fill(0);
    for (const f of shape.fields) if (f.element?.shape) this.resetScans(f.element.shape);
  }

  /** Records a key of the object whose keys start at `first`; false if it is already there. */
  private newKey(first: number, h: number, start: number, end: number, escaped: number): boolean {
    const n = this.keys;
    for (let k = first; k < n; k++) {
      if (this.keyHash[k] === h && this.sameKey(k, start, end, escaped)) return false;
    }
    if (n === this.keyHash.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
        const bigger = new (a.constructor as new (n: number) => T)(a.length * 2);
        bigger.set(a);
        return bigger;
      };
      this.keyHash = grow(this.keyHash);
      this.keyStart = grow(this.keyStart);
      this.keyEnd = grow(this.keyEnd);
      this.keyEscaped = grow(this.keyEscaped);
    }
    this.keyHash[n] = h;
    this.keyStart[n] = start;
    this.keyEnd[n] = end;
    this.keyEscaped[n] = escaped;
    this.keys = n + 1;
    return true;
  }

  private sameKey(k: number, start: number, end: number, escaped: number): boolean {
    const s = this.keyStart[k];
    const e = this.keyEnd[k];
    if (escaped || this.keyEscaped[k]) return this.unescape(s, e) === this.unescape(start, end);
    if (e - s !== end - start) return false;
    const b = this.b;
    for (let x = 0; x < e - s; x++) if (b[s + x] !== b[start + x]) return false;
    return true;
  }

  private lookup(
    shape: ObjectShape,
    h: number,
    start: number,
    end: number,
    escaped: number,
  ): FieldShape | undefined {
    const { slots, mask, fields } = shape;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const idx = slots[s];
      if (idx === 0) return undefined;
      const f = fields[idx - 1];
      if (f.hash !== h) continue;
      if (escaped) {
        if (this.unescape(start, end) === f.name) return f;
        continue;
      }
      const fb = f.bytes;
      if (fb.length !== end - start) continue;
      let same = true;
      for (let x = 0; x < fb.length; x++) {
        if (this.b[start + x] !== fb[x]) {
          same = false;
          break;
        }
      }
      if (same) return f;
    }
  }

  /** The text of a string's contents [start, end) with its escapes resolved (rare: escaped keys). */
  private unescape(start: number, end: number): string {
    const raw = Buffer.from(this.b.buffer, this.b.byteOffset + start - 1, end - start + 2).toString('utf8');
    return JSON.parse(raw) as string;
  }

  /** Validates an escape sequence at `i` ('\'); returns the position after it, or -1. */
  private escape(i: number): number {
    const b = this.b;
    if (i + 1 >= this.end) return this.failN(E_END, this.end);
    const c = b[i + 1];
    if (c !== 0x75) {
      // " \ / b f n r t
      if (
        c === 0x22 ||
        c === 0x5c ||
        c === 0x2f ||
        c === 0x62 ||
        c === 0x66 ||
        c === 0x6e ||
        c === 0x72 ||
        c === 0x74
      )
        return i + 2;
      return this.failN(E_ESCAPE, i);
    }
    const u = this.hex4(i + 2);
    if (u < 0) return this.failN(E_ESCAPE, i);
    if (u >= 0xdc00 && u <= 0xdfff) return this.failN(E_SURROGATE, i);
    if (u >= 0xd800 && u <= 0xdbff) {
      // A high surrogate must be followed by an escaped low one.
      if (i + 12 <= this.end && b[i + 6] === 0x5c && b[i + 7] === 0x75) {
        const lo = this.hex4(i + 8);
        if (lo >= 0xdc00 && lo <= 0xdfff) return i + 12;
      }
      return this.failN(E_SURROGATE, i);
    }
    return i + 6;
  }

  private hex4(i: number): number {
    if (i + 4 > this.end) return -1;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.b[i + k];
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else return -1;
      v = v * 16 + d;
    }
    return v;
  }

  /** A string at `i` ('"'); returns the position after it, or -1. */
  private string(i: number): number {
    const b = this.b;
    const end = this.end;
    i++;
    for (;;) {
      if (i >= end) return this.failN(E_END, i);
      const c = b[i];
      if (c === 0x22) return i + 1;
      if (c === 0x5c) {
        i = this.escape(i);
        if (i < 0) return -1;
        continue;
      }
      if (c < 0x20) return this.failN(E_CONTROL, i);
      i++;
    }
  }

  /**
   * A number at `i`; returns the position after it, or -1. Sets `fracDigits` (digits
   * after the point, trailing zeros left out, less the exponent) and `plain` (no
   * fraction, no exponent).
   */
  private fracDigits = 0;
  private plain = true;
  private exponent = false;
  private number(i: number): number {
    const b = this.b;
    const end = this.end;
    const start = i;
    if (b[i] === 0x2d) i++;
    if (i >= end) return this.failN(E_NUMBER, start);
    if (b[i] === 0x30) i++;
    else if (b[i] >= 0x31 && b[i] <= 0x39) {
      i++;
      while (i < end && b[i] >= 0x30 && b[i] <= 0x39) i++;
    } else return this.failN(E_NUMBER, start);
    this.plain = true;
    this.exponent = false;
    let frac = 0;
    if (i < end && b[i] === 0x2e) {
      this.plain = false;
      i++;
      const f0 = i;
      let lastNonZero = i - 1;
      while (i < end && b[i] >= 0x30 && b[i] <= 0x39) {
        if (b[i] !== 0x30) lastNonZero = i;
        i++;
      }
      if (i === f0) return this.failN(E_NUMBER, start);
      frac = lastNonZero - f0 + 1;
    }
    if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
      this.plain = false;
      this.exponent = true;
      i++;
      let neg = false;
      if (i < end && (b[i] === 0x2b || b[i] === 0x2d)) {
        neg = b[i] === 0x2d;
        i++;
      }
      const e0 = i;
      let exp = 0;
      while (i < end && b[i] >= 0x30 && b[i] <= 0x39) {
        if (exp < 1e6) exp = exp * 10 + (b[i] - 0x30);
        i++;
      }
      if (i === e0) return this.failN(E_NUMBER, start);
      frac += neg ? exp : -exp;
    }
    this.fracDigits = frac;
    return i;
  }

  /** A value the contract does not describe: any JSON value. */
  private value(i: number, depth: number): number {
    const b = this.b;
    if (i >= this.end) return this.failN(E_END, i);
    const c = b[i];
    if (c === 0x22) return this.string(i);
    if (c === 0x7b) return this.object(i, depth + 1, undefined);
    if (c === 0x5b) return this.array(i, depth + 1, undefined);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number(i);
    return this.literal(i);
  }

  private literal(i: number): number {
    const b = this.b;
    const c = b[i];
    const lit = c === 0x74 ? TRUE : c === 0x66 ? FALSE : c === 0x6e ? NULL : undefined;
    if (lit === undefined || i + lit.length > this.end) return this.failN(E_UNEXPECTED, i);
    for (let k = 1; k < lit.length; k++) if (b[i + k] !== lit[k]) return this.failN(E_UNEXPECTED, i + k);
    return i + lit.length;
  }

  /** An array at `i` ('['); elements of `items` shape when given. */
  private array(i: number, depth: number, items: FieldShape | undefined): number {
    if (depth > MAX_DEPTH) return this.failN(E_DEPTH, i);
    const b = this.b;
    const end = this.end;
    i = i + 1;
    if (b[i] <= 0x20) i = this.ws(i);
    if (i < end && b[i] === 0x5d) return i + 1;
    const at = this.pathLen;
    for (let n = 0; ; n++) {
      if (items !== undefined) {
        this.pathField[at] = undefined;
        this.pathIndex[at] = n;
        this.pathLen = at + 1;
        i = this.typedValue(i, depth, items);
        if (i >= 0) this.pathLen = at;
      } else i = this.value(i, depth);
      if (i < 0) return -1;
      if (b[i] <= 0x20) i = this.ws(i);
      if (i >= end) return this.failN(E_END, i);
      if (b[i] === 0x2c) {
        i = i + 1;
        if (b[i] <= 0x20) i = this.ws(i);
        continue;
      }
      if (b[i] === 0x5d) return i + 1;
      return this.failN(E_UNEXPECTED, i);
    }
  }

  /** A value of a field the contract describes. */
  private typedValue(i: number, depth: number, f: FieldShape): number {
    const b = this.b;
    if (i >= this.end) return this.failN(E_END, i);
    const c = b[i];
    const kind = f.kind;
    // null is a type of its own: whether it is allowed is the contract's `required` rule.
    if (c === 0x6e) return this.literal(i);
    if (f.coerce) return this.value(i, depth);
    if (c === 0x22) {
      if (kind !== STRING && kind !== ANY) return this.typeError(f, i);
      return this.string(i);
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      if (kind !== NUMBER && kind !== INTEGER && kind !== ANY) return this.typeError(f, i);
      const e = this.number(i);
      if (e < 0) return -1;
      if (kind === INTEGER) {
        // A number with no fractional part (as JSON Schema's integer: 1.0 and 1e3 are
        // integers), read as a double: exact within ±2^53.
        if (this.fracDigits > 0) return this.failTyped(E_INTEGER, f, i, e);
        if ((!this.plain || e - i > 15) && !Number.isSafeInteger(Number(this.raw(i, e))))
          return this.failTyped(E_INTEGER, f, i, e);
      } else if (kind === NUMBER) {
        if ((this.exponent || e - i > 300) && !Number.isFinite(Number(this.raw(i, e))))
          return this.failTyped(E_RANGE, f, i, e);
        if (f.decimals >= 0 && this.fracDigits > f.decimals) return this.failTyped(E_DECIMALS, f, i, e);
      }
      return e;
    }
    if (c === 0x7b) {
      if (kind !== OBJECT && kind !== ANY) return this.typeError(f, i);
      return this.object(i, depth + 1, f.shape);
    }
    if (c === 0x5b) {
      if (kind !== ARRAY && kind !== ANY) return this.typeError(f, i);
      return this.array(i, depth + 1, f.element);
    }
    if (c === 0x74 || c === 0x66) {
      if (kind !== BOOLEAN && kind !== ANY) return this.typeError(f, i);
      return this.literal(i);
    }
    return this.failN(E_UNEXPECTED, i);
  }

  private typeError(f: FieldShape, i: number): number {
    // A malformed token is a JSON error first: report that rather than its type.
    const probe = this.value(i, 0);
    if (probe < 0) return -1;
    return this.failTyped(E_TYPE, f, i, i);
  }

  private failTyped(code: number, f: FieldShape, i: number, detail: number): number {
    this.errField = f;
    this.fail(code, i, detail);
    return -1;
  }

  private failN(code: number, at: number, detail = 0): number {
    this.fail(code, at, detail);
    return -1;
  }
}

const TRUE = Uint8Array.from([0x74, 0x72, 0x75, 0x65]);
const FALSE = Uint8Array.from([0x66, 0x61, 0x6c, 0x73, 0x65]);
const NULL = Uint8Array.from([0x6e, 0x75, 0x6c, 0x6c]);
