/**
 * YAML of a models project (a model's front matter, `sources.yml`) read with the
 * position of every node, so each problem is reported as `file:line:column` where the
 * user wrote it — the way pipeline definitions report theirs (src/pipeline/load.ts).
 * A front matter starts some lines into its `.sql` file: `firstLine` shifts the lines.
 */
import { TributaryError } from '../../core/errors.ts';
import { parseYamlText } from '../../core/yaml-nodes.ts';

export type Path = Array<string | number>;

export interface Problem {
  path: Path;
  message: string;
  /** Point at the key rather than at its value (an unknown key). */
  atKey?: boolean;
}

/** A place in a file, 1-based. */
export interface Position {
  file: string;
  line: number;
  col: number;
}

export interface YamlDoc {
  file: string;
  /** The document as plain values (undefined for an empty document). */
  value: unknown;
  /** Where the value at `path` (or its key) is; the nearest existing parent when it is missing. */
  locate(path: Path, atKey?: boolean): Position;
}

export const where = (p: Position): string => `${p.file}:${p.line}:${p.col}`;

/** `a.b[2].c` for messages. */
export function formatPath(path: Path): string {
  let out = '';
  for (const step of path) out += typeof step === 'number' ? `[${step}]` : out === '' ? step : `.${step}`;
  return out;
}

/** Throws MODEL_INVALID listing problems, each as `file:line:col: what`. */
export function invalid(lines: Array<{ at: Position; message: string }>, what: string): never {
  lines = [...lines].sort((a, b) =>
    a.at.file < b.at.file ? -1 : a.at.file > b.at.file ? 1 : a.at.line - b.at.line || a.at.col - b.at.col,
  );
  const shown = lines.slice(0, 20).map((l) => `${where(l.at)}: ${l.message}`);
  if (lines.length > 20) shown.push(`… and ${lines.length - 20} more`);
  const first = lines[0]?.at;
  throw new TributaryError(
    'MODEL_INVALID',
    `${lines.length === 1 ? `${what} has a problem` : `${what} has ${lines.length} problems`}:\n  ${shown.join('\n  ')}`,
    first ? { file: first.file, line: first.line, col: first.col } : {},
  );
}

/** Problems found in a document, reported at their positions. */
export function invalidDoc(doc: YamlDoc, problems: Problem[], what: string): never {
  return invalid(
    problems.map((p) => ({
      at: doc.locate(p.path, p.atKey),
      message: p.path.length > 0 ? `${formatPath(p.path)}: ${p.message}` : p.message,
    })),
    what,
  );
}

/**
 * Parses YAML text that starts on line `firstLine` (1-based) of `file`; YAML syntax
 * errors are MODEL_INVALID with their positions.
 */
export function parseYaml(text: string, file: string, firstLine = 1, what = 'the YAML'): YamlDoc {
  const yaml = parseYamlText(text, firstLine);
  if (yaml.errors.length > 0) {
    invalid(
      yaml.errors.map((e) => ({ at: { file, line: e.line, col: e.col }, message: e.message })),
      `${what} (not valid YAML)`,
    );
  }
  const locate = (path: Path, atKey = false): Position => {
    const at = yaml.locate(path, atKey);
    return at === undefined ? { file, line: firstLine, col: 1 } : { file, ...at };
  };
  return { file, value: yaml.value ?? undefined, locate };
}
