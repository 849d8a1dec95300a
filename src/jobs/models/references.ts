/**
 * A model's SQL: the `ref('model')` and `source('table')` references in it (with their
 * file positions) and the check that it is one query. The tokenizer of the query layer
 * skips strings, quoted identifiers and comments, so a `ref(` inside a string is text.
 */
import { isKeyword, type Token, tokenize } from '../../query/sql-tokens.ts';
import type { Position } from './yaml-doc.ts';

export interface Reference {
  kind: 'ref' | 'source';
  name: string;
  /** Span [start, end) of `ref('x')` in the SQL body. */
  start: number;
  end: number;
  at: Position;
}

export interface ScannedSql {
  refs: Reference[];
  /** The body without a trailing semicolon (the query run). */
  query: string;
  problems: Array<{ at: Position; message: string }>;
}

/** 1-based line and column of `offset` in `text`. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, col: offset - last };
}

const QUERY_START = ['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE'];

/**
 * Scans the SQL body of a model: `body` starts at `bodyOffset` of the file's `text`
 * (after the front matter), so positions are the file's.
 */
export function scanModelSql(file: string, text: string, bodyOffset: number): ScannedSql {
  const body = text.slice(bodyOffset);
  const at = (offset: number): Position => ({ file, ...lineCol(text, bodyOffset + offset) });
  const problems: ScannedSql['problems'] = [];
  let tokens: Token[];
  try {
    tokens = tokenize(body);
  } catch (err) {
    const m = /character (\d+)/.exec((err as Error).message);
    return {
      refs: [],
      query: body,
      problems: [{ at: at(m ? Number(m[1]) - 1 : 0), message: (err as Error).message }],
    };
  }
  // One query: semicolons only at the end.
  let end = tokens.length;
  while (end > 0 && tokens[end - 1].kind === 'punct' && tokens[end - 1].text === ';') end--;
  const query = end === 0 ? '' : body.slice(0, tokens[end - 1].end);
  if (end === 0) {
    problems.push({ at: at(0), message: 'the model has no SQL: write one SELECT after the config' });
  } else {
    const first = tokens[0];
    if (!(first.kind === 'punct' && first.text === '(') && !QUERY_START.some((k) => isKeyword(first, k))) {
      problems.push({
        at: at(first.start),
        message: `a model is one query (SELECT or WITH ...), not '${first.text}'`,
      });
    }
    const semi = tokens.slice(0, end).find((t) => t.kind === 'punct' && t.text === ';');
    if (semi) {
      problems.push({
        at: at(semi.start),
        message: 'a model is one query: this semicolon ends it, and more SQL follows (one SELECT per file)',
      });
    }
  }
  const refs: Reference[] = [];
  for (let i = 0; i < end; i++) {
    const t = tokens[i];
    const kind = isKeyword(t, 'REF') ? 'ref' : isKeyword(t, 'SOURCE') ? 'source' : undefined;
    const open = tokens[i + 1];
    if (kind === undefined || !(open?.kind === 'punct' && open.text === '(')) continue;
    // `x.source(` is a method-style call on something else, not a reference.
    const prev = tokens[i - 1];
    if (prev?.kind === 'punct' && prev.text === '.') continue;
    const arg = tokens[i + 2];
    const close = tokens[i + 3];
    const what =
      kind === 'ref'
        ? "a model name: ref('daily_active_users')"
        : "a table name: source('bronze_user_events')";
    if (
      !(arg?.kind === 'string' || arg?.kind === 'quoted') ||
      arg.value.trim() === '' ||
      !(close?.kind === 'punct' && close.text === ')')
    ) {
      problems.push({ at: at(t.start), message: `${kind}() takes one quoted name, ${what}` });
      continue;
    }
    refs.push({ kind, name: arg.value.trim(), start: t.start, end: close.end, at: at(t.start) });
    i += 3;
  }
  return { refs, query, problems };
}

/** The query with each reference replaced by `replace(ref)` (an identifier of a view). */
export function rewriteRefs(query: string, refs: Reference[], replace: (r: Reference) => string): string {
  let out = '';
  let pos = 0;
  for (const r of [...refs].sort((a, b) => a.start - b.start)) {
    if (r.start >= query.length) break;
    out += `${query.slice(pos, r.start)}${replace(r)}`;
    pos = r.end;
  }
  return out + query.slice(pos);
}
