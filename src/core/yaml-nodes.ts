/**
 * Where a value of a parsed YAML document is in its text: for problems reported as
 * file:line:column (pipeline definitions, jobs files, model configs all use it).
 */
import { type Document, isMap, isSeq, LineCounter, type Node, parseDocument } from 'yaml';

/**
 * The offset in the text of the value at `path` (keys and list indexes), or of its key
 * with `atKey`; a path that does not exist is reported at its deepest existing node (a
 * missing key at its parent). Undefined when the document has no such node at all.
 */
export function offsetOf(
  doc: Document,
  path: ReadonlyArray<string | number>,
  atKey = false,
): number | undefined {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown })?.value === step);
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number' && step < node.items.length) {
      keyNode = undefined;
      node = node.items[step];
    } else {
      break;
    }
  }
  const target = (atKey ? keyNode : undefined) ?? (node as Node | undefined) ?? keyNode;
  return target?.range ? target.range[0] : undefined;
}

/** A line and column (1-based) in a file. */
export interface LineCol {
  line: number;
  col: number;
}

export interface ParsedYaml {
  doc: Document;
  /** The document as plain values (null for an empty one; undefined when it has syntax errors). */
  value: unknown;
  /** Syntax errors, each at its position (first line of the parser's message). */
  errors: Array<LineCol & { message: string }>;
  /** Where the value at `path` (or its key) is; undefined when the document has no such node. */
  locate(path: ReadonlyArray<string | number>, atKey?: boolean): LineCol | undefined;
}

/**
 * Parses YAML text that starts on line `firstLine` of its file (a header inside a SQL
 * file starts further down), keeping positions for messages; duplicate keys are errors.
 */
export function parseYamlText(text: string, firstLine = 1): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number): LineCol => {
    const p = lines.linePos(offset);
    return { line: p.line + firstLine - 1, col: p.col };
  };
  return {
    doc,
    value: doc.errors.length > 0 ? undefined : doc.toJS(),
    errors: doc.errors.map((e) => ({ ...pos(e.pos[0]), message: e.message.split('\n')[0] })),
    locate: (path, atKey = false) => {
      const at = offsetOf(doc, path, atKey);
      return at === undefined ? undefined : pos(at);
    },
  };
}

/** The syntax errors of `file` as `file:line:col: message` lines, indented under a heading. */
export function syntaxErrorLines(file: string, errors: ParsedYaml['errors']): string {
  return errors.map((e) => `\n  ${file}:${e.line}:${e.col}: ${e.message}`).join('');
}
