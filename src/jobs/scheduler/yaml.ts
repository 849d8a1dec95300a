/**
 * A YAML file read so that problems can be reported where the user wrote them: each
 * node's position is kept (as the pipeline loader does, src/pipeline/load.ts), and a
 * path into the document (`jobs[0].tasks[2].depends_on[1]`) maps to `line:column`.
 */
import { TributaryError } from '../../core/errors.ts';
import { parseYamlText, syntaxErrorLines } from '../../core/yaml-nodes.ts';
import { formatPath, type Path, type Problem } from '../../pipeline/shape.ts';

export interface YamlFile {
  file: string;
  value: unknown;
  /** `line:column` of the value at `path` (or of its key); a missing key is located at its parent. */
  locate(path: Path, atKey?: boolean): { line: number; col: number } | undefined;
}

/** Parses `text`; JOB_INVALID with every syntax error's file:line:column. */
export function parseYamlFile(text: string, file: string): YamlFile {
  const yaml = parseYamlText(text);
  if (yaml.errors.length > 0) {
    throw new TributaryError(
      'JOB_INVALID',
      `the jobs file is not valid YAML:${syntaxErrorLines(file, yaml.errors)}`,
      {
        file,
      },
    );
  }
  return { file, value: yaml.value, locate: yaml.locate };
}

/** A problem in a file, located. */
export interface FileProblem extends Problem {
  file: YamlFile;
}

export function formatProblem(p: FileProblem): string {
  const pos = p.file.locate(p.path, p.atKey);
  return `${p.file.file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${formatPath(p.path)}: ${p.message}`;
}

/** Throws JOB_INVALID listing the problems (at most 20), each with file:line:column. */
export function invalidJobs(unsorted: FileProblem[]): never {
  // In the order of the files and of the lines in each (stable for problems at one place).
  const files = [...new Set(unsorted.map((p) => p.file))];
  const at = (p: FileProblem) => p.file.locate(p.path, p.atKey) ?? { line: 0, col: 0 };
  const problems = [...unsorted].sort((a, b) => {
    const f = files.indexOf(a.file) - files.indexOf(b.file);
    if (f !== 0) return f;
    const [pa, pb] = [at(a), at(b)];
    return pa.line - pb.line || pa.col - pb.col;
  });
  const lines = problems.slice(0, 20).map(formatProblem);
  if (problems.length > 20) lines.push(`… and ${problems.length - 20} more`);
  const first = problems[0];
  throw new TributaryError(
    'JOB_INVALID',
    `${problems.length === 1 ? 'a job definition has a problem' : `the job definitions have ${problems.length} problems`}:\n  ${lines.join('\n  ')}`,
    { file: first?.file.file, path: first ? formatPath(first.path) : undefined },
  );
}
