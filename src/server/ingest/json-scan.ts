/**
 * Where JSON values begin and end in a body's bytes, without building them: the
 * elements of an array, and the members of an object. Ingest keeps each record's
 * bytes exactly as sent (a long of 19 digits stays 19 digits; `JSON.parse` and
 * `JSON.stringify` would round it), so it needs the element's own text, not its value.
 *
 * The scan follows strings (with their escapes) and brackets only; whether a value is
 * valid JSON is for `JSON.parse` on its text to say.
 */

export class ScanError extends Error {
  /** Byte position in the body. */
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function skipSpace(buf: Uint8Array, i: number, end: number): number {
  while (i < end && isSpace(buf[i])) i++;
  return i;
}

/** The end (exclusive) of the string starting at `i` (a quote). */
function scanString(buf: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = buf[j];
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  throw new ScanError('a string is not closed', i);
}

/** The end (exclusive) of the JSON value starting at `i` (not a space). */
export function scanValue(buf: Uint8Array, i: number, end: number): number {
  const c = buf[i];
  if (c === QUOTE) return scanString(buf, i, end);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const d = buf[j];
      if (d === QUOTE) j = scanString(buf, j, end) - 1;
      else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        if (--depth === 0) return j + 1;
      }
    }
    throw new ScanError(c === OPEN_BRACE ? 'an object is not closed' : 'an array is not closed', i);
  }
  let j = i;
  while (j < end) {
    const d = buf[j];
    if (d === COMMA || d === CLOSE_BRACKET || d === CLOSE_BRACE || isSpace(d)) break;
    j++;
  }
  if (j === i) throw new ScanError(`unexpected '${String.fromCharCode(c)}'`, i);
  return j;
}

export interface ArrayScan {
  /** Each element's [start, end) in the body. */
  elements: Array<[number, number]>;
  /** Where the array's structure broke (elements after it are unknown). */
  error?: ScanError;
}

/** The elements of the JSON array that is the whole body. */
export function arrayElements(buf: Uint8Array): ArrayScan {
  const end = buf.length;
  const elements: Array<[number, number]> = [];
  let i = skipSpace(buf, 0, end);
  if (buf[i] !== OPEN_BRACKET) {
    return { elements, error: new ScanError('the body is not a JSON array (it must start with [)', i) };
  }
  i = skipSpace(buf, i + 1, end);
  if (buf[i] === CLOSE_BRACKET) {
    i = skipSpace(buf, i + 1, end);
    return i === end ? { elements } : { elements, error: new ScanError('text after the array', i) };
  }
  for (;;) {
    if (i >= end) return { elements, error: new ScanError('the array is not closed', i) };
    let e: number;
    try {
      e = scanValue(buf, i, end);
    } catch (err) {
      return { elements, error: err as ScanError };
    }
    elements.push([i, e]);
    i = skipSpace(buf, e, end);
    if (buf[i] === COMMA) {
      i = skipSpace(buf, i + 1, end);
      continue;
    }
    if (buf[i] === CLOSE_BRACKET) {
      i = skipSpace(buf, i + 1, end);
      return i === end ? { elements } : { elements, error: new ScanError('text after the array', i) };
    }
    return {
      elements,
      error: new ScanError(i >= end ? 'the array is not closed' : "expected ',' or ']' after an element", i),
    };
  }
}

/**
 * The [start, end) of the member `name` of the object in buf[start, end), which must
 * be valid JSON (checked by JSON.parse before); the last one when the name repeats,
 * as JSON.parse does. Undefined when there is no such member.
 */
export function memberValue(
  buf: Uint8Array,
  start: number,
  end: number,
  name: string,
): [number, number] | undefined {
  let found: [number, number] | undefined;
  let i = skipSpace(buf, start, end);
  if (buf[i] !== OPEN_BRACE) return undefined;
  i = skipSpace(buf, i + 1, end);
  const decoder = new TextDecoder();
  while (i < end && buf[i] !== CLOSE_BRACE) {
    const keyEnd = scanString(buf, i, end);
    const key = JSON.parse(decoder.decode(buf.subarray(i, keyEnd))) as string;
    i = skipSpace(buf, keyEnd, end);
    if (buf[i] !== COLON) throw new ScanError("expected ':'", i);
    i = skipSpace(buf, i + 1, end);
    const valueEnd = scanValue(buf, i, end);
    if (key === name) found = [i, valueEnd];
    i = skipSpace(buf, valueEnd, end);
    if (buf[i] === COMMA) i = skipSpace(buf, i + 1, end);
  }
  return found;
}
