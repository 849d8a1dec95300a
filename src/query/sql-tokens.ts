/**
 * A small SQL tokenizer: just enough of DuckDB's lexical rules to find table references
 * without being fooled by strings, quoted identifiers and comments. Every token keeps its
 * source offsets so a reference can be replaced in the original text.
 */
export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'punct';

export interface Token {
  kind: TokenKind;
  /** The token as written (quotes included). */
  text: string;
  /** Unquoted value: identifier name, string contents, or the text itself. */
  value: string;
  start: number;
  end: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Reads the body of a quoted token whose quote char doubles as its own escape ('' or ""). */
function readQuoted(sql: string, start: number, quote: string): { end: number; value: string } {
  let i = start + 1;
  let value = '';
  while (i < sql.length) {
    const c = sql[i];
    if (c === quote) {
      if (sql[i + 1] === quote) {
        value += quote;
        i += 2;
        continue;
      }
      return { end: i + 1, value };
    }
    value += c;
    i++;
  }
  return { end: -1, value };
}

/** Tokens of `sql`, skipping whitespace and comments; throws with the offset of an unterminated quote. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (c === "'" || c === '"') {
      const { end, value } = readQuoted(sql, i, c);
      if (end < 0) {
        const what = c === "'" ? 'string literal' : 'quoted identifier';
        throw new SyntaxError(`unterminated ${what} starting at character ${i + 1}`);
      }
      out.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(i, end), value, start: i, end });
      i = end;
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && WORD_PART.test(sql[j])) j++;
      out.push({ kind: 'word', text: sql.slice(i, j), value: sql.slice(i, j), start: i, end: j });
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < sql.length && /[0-9._eE]/.test(sql[j])) j++;
      out.push({ kind: 'number', text: sql.slice(i, j), value: sql.slice(i, j), start: i, end: j });
      i = j;
    } else {
      out.push({ kind: 'punct', text: c, value: c, start: i, end: i + 1 });
      i++;
    }
  }
  return out;
}

/** True when `t` is the unquoted keyword `kw` (case-insensitive). */
export function isKeyword(t: Token | undefined, kw: string): boolean {
  return t !== undefined && t.kind === 'word' && t.value.toUpperCase() === kw;
}
