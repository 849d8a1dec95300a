/**
 * The strict check's failures (strict-json.ts): a code and position found by the scan,
 * turned into the rule, field and message the dead-letter queue records. Built only for
 * a refused value, so none of this is on the hot path.
 */
import { type FieldShape, KIND_NAME, MAX_DEPTH } from './json-shape.ts';

/** Why a value was refused: the rule, the field path ('' for the whole value), a message. */
export interface StrictJsonError {
  field: string;
  rule: string;
  message: string;
  /** Byte offset in the value where the problem is. */
  at: number;
}

// Error codes of the scan (the message is built only for a refused value).
export const E_EMPTY = 1;
export const E_NOT_OBJECT = 2;
export const E_TRAILING = 3;
export const E_UNEXPECTED = 4;
export const E_END = 5;
export const E_CONTROL = 6;
export const E_ESCAPE = 7;
export const E_SURROGATE = 8;
export const E_NUMBER = 9;
export const E_DEPTH = 10;
export const E_DUPLICATE = 11;
export const E_TYPE = 12;
export const E_INTEGER = 13;
export const E_RANGE = 14;
export const E_DECIMALS = 15;

/** What the scan found: the code, where (absolute offsets into `bytes`), and the field. */
export interface ScanFailure {
  code: number;
  bytes: Uint8Array;
  /** Where the value starts and ends in `bytes`. */
  base: number;
  end: number;
  at: number;
  /** For some codes, where the offending token ends. */
  detail: number;
  field: string;
  shape?: FieldShape;
}

export function describeFailure(f: ScanFailure): StrictJsonError {
  const field = f.field;
  const at = f.at - f.base;
  const where = `at byte ${at}`;
  const b = f.bytes;
  const ch = f.at < f.end ? describeByte(b[f.at]) : 'the end';
  const shape = f.shape;
  switch (f.code) {
    case E_EMPTY:
      return { field: '', rule: 'json', message: 'empty record (no value)', at: 0 };
    case E_NOT_OBJECT:
      return {
        field: '',
        rule: 'json',
        message: `not a JSON object: found ${ch} ${where} (a record must be one JSON object)`,
        at,
      };
    case E_TRAILING:
      return {
        field: '',
        rule: 'json',
        message: `content after the end of the JSON object ${where}: ${ch} (a record must be exactly one JSON object)`,
        at,
      };
    case E_UNEXPECTED:
      return { field, rule: 'json', message: `not valid JSON: unexpected ${ch} ${where}`, at };
    case E_END:
      return { field, rule: 'json', message: `not valid JSON: the value ends too early ${where}`, at };
    case E_CONTROL:
      return {
        field,
        rule: 'json',
        message: `not valid JSON: raw control character ${ch} inside a string ${where} (it must be escaped)`,
        at,
      };
    case E_ESCAPE:
      return { field, rule: 'json', message: `not valid JSON: invalid escape sequence ${where}`, at };
    case E_SURROGATE:
      return {
        field,
        rule: 'json',
        message: `not valid JSON text: unpaired UTF-16 surrogate escape ${where} (no Unicode character)`,
        at,
      };
    case E_NUMBER:
      return { field, rule: 'json', message: `not valid JSON: malformed number ${where}`, at };
    case E_DEPTH:
      return {
        field,
        rule: 'json',
        message: `nested deeper than ${MAX_DEPTH} levels ${where}`,
        at,
      };
    case E_DUPLICATE:
      return {
        field,
        rule: 'json',
        message: `duplicate key ${text(f, f.at, f.detail)} ${where} (a key may appear once per object)`,
        at,
      };
    case E_TYPE:
      return {
        field,
        rule: 'type',
        message: `expected ${shape?.expected ?? KIND_NAME[shape?.kind ?? 0]}, got ${tokenKind(b[f.at])} (${where})`,
        at,
      };
    case E_INTEGER:
      return {
        field,
        rule: 'type',
        message: `expected integer, got ${text(f, f.at, f.detail)} (${where}${f.detail - f.at > 15 ? '; integers are read exactly only within ±9007199254740991' : ''})`,
        at,
      };
    case E_RANGE:
      return {
        field,
        rule: 'range',
        message: `number ${text(f, f.at, f.detail)} is out of the range of a double (${where})`,
        at,
      };
    case E_DECIMALS:
      return {
        field,
        rule: 'decimals',
        message: `${text(f, f.at, f.detail)} has more than ${shape?.decimals} decimal places (${where})`,
        at,
      };
    default:
      return { field, rule: 'json', message: 'not valid JSON', at };
  }
}

/** The bytes [start, end) as text, at most 60 characters. */
function text(f: ScanFailure, start: number, end: number): string {
  const s = Buffer.from(f.bytes.buffer, f.bytes.byteOffset + start, Math.max(0, end - start)).toString(
    'utf8',
  );
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function describeByte(c: number): string {
  if (c >= 0x21 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
  return `byte 0x${c.toString(16).padStart(2, '0')}`;
}

function tokenKind(c: number): string {
  if (c === 0x22) return 'string';
  if (c === 0x7b) return 'object';
  if (c === 0x5b) return 'array';
  if (c === 0x74 || c === 0x66) return 'boolean';
  return 'number';
}
