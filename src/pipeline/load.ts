/**
 * Loading a definition from its two front ends, and reporting its problems where the
 * user wrote them: for a YAML file, `file:line:column` (the `yaml` package keeps every
 * node's position), for a TypeScript object, the path to the value.
 */
import { promises as fs } from 'node:fs';
import { TributaryError } from '../core/errors.ts';
import { parseYamlText, syntaxErrorLines } from '../core/yaml-nodes.ts';
import type { PipelineDefinition } from './definition.ts';
import { fromSeedConfig, isSeedConfig } from './seed-config.ts';
import { checkShape, formatPath, type Path, type Problem } from './shape.ts';

/** A definition with where it came from, so later checks can point into the file. */
export interface LoadedDefinition {
  definition: PipelineDefinition;
  /** The file it was read from (undefined for a definition given in code). */
  file?: string;
  /** `line:column` of the value at `path` (or of its key), when the front end knows. */
  locate(path: Path, atKey?: boolean): { line: number; col: number } | undefined;
  /** A seed configuration's Kafka bootstrap servers: the log unless the command line names one. */
  kafka?: string;
  /** What a seed configuration's translation did not use, for the operator. */
  notes?: string[];
}

/** Throws PIPELINE_INVALID listing `problems`, each with where it is and what is expected. */
export function invalid(loaded: Pick<LoadedDefinition, 'file' | 'locate'>, problems: Problem[]): never {
  const lines = problems.slice(0, 20).map((p) => {
    const pos = loaded.locate(p.path, p.atKey);
    const where = loaded.file
      ? `${loaded.file}${pos ? `:${pos.line}:${pos.col}` : ''}`
      : 'pipeline definition';
    return `${where}: ${formatPath(p.path)}: ${p.message}`;
  });
  if (problems.length > 20) lines.push(`… and ${problems.length - 20} more`);
  const first = problems[0];
  throw new TributaryError(
    'PIPELINE_INVALID',
    `${problems.length === 1 ? 'the pipeline definition has a problem' : `the pipeline definition has ${problems.length} problems`}:\n  ${lines.join('\n  ')}`,
    { file: loaded.file, path: first ? formatPath(first.path) : undefined },
  );
}

/** A definition given in code (`definePipeline`): shape-checked, problems reported by path. */
export function fromObject(definition: PipelineDefinition): LoadedDefinition {
  const loaded: LoadedDefinition = { definition, locate: () => undefined };
  const problems = checkShape(definition);
  if (problems.length > 0) invalid(loaded, problems);
  return loaded;
}

/** Parses YAML text (named `file` in messages) and checks its shape. */
export function fromYaml(text: string, file: string): LoadedDefinition {
  const yaml = parseYamlText(text);
  if (yaml.errors.length > 0) {
    throw new TributaryError(
      'PIPELINE_INVALID',
      `the pipeline definition is not valid YAML:${syntaxErrorLines(file, yaml.errors)}`,
      { file },
    );
  }
  const locate = yaml.locate;
  const js: unknown = yaml.value;
  if (isSeedConfig(js)) {
    // Seed 003's configuration file: its own problems point into it; the definition it
    // becomes is the built-in cdc pipeline's.
    const seed = fromSeedConfig(js);
    if (seed.problems.length > 0) invalid({ file, locate }, seed.problems);
    const translated: LoadedDefinition = {
      definition: seed.definition,
      file,
      locate: () => undefined,
      ...(seed.kafka !== undefined && { kafka: seed.kafka }),
      notes: seed.notes,
    };
    const problems = checkShape(seed.definition);
    if (problems.length > 0) invalid(translated, problems);
    return translated;
  }
  const definition = js as PipelineDefinition;
  const loaded: LoadedDefinition = { definition, file, locate };
  const problems = checkShape(definition);
  if (problems.length > 0) invalid(loaded, problems);
  return loaded;
}

export async function loadDefinitionFile(file: string): Promise<LoadedDefinition> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new TributaryError(
      'PIPELINE_INVALID',
      `cannot read the pipeline definition '${file}': ${(err as Error).message}`,
      { file },
      err,
    );
  }
  return fromYaml(text, file);
}
