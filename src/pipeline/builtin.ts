/**
 * The pipelines that ship with Tributary: definition files in the package's `pipelines/`
 * folder, run by name (`tributary run orders`). Anything that looks like a path (has a
 * `/` or ends in `.yaml` / `.yml`) is a user's file instead.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TributaryError } from '../core/errors.ts';
import { fromYaml, type LoadedDefinition, loadDefinitionFile } from './load.ts';

/** The package's `pipelines/` folder (this file is src/pipeline/ or dist/pipeline/). */
export const BUILTIN_DIR = join(import.meta.dirname, '..', '..', 'pipelines');

export function builtinNames(): string[] {
  if (!existsSync(BUILTIN_DIR)) return [];
  return readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export const looksLikePath = (arg: string) => arg.includes('/') || /\.ya?ml$/i.test(arg);

export function builtinPath(name: string): string {
  return join(BUILTIN_DIR, `${name}.yaml`);
}

/** A built-in pipeline's definition, read synchronously (for module-level constants). */
export function builtinDefinitionSync(name: string): LoadedDefinition {
  return fromYaml(readFileSync(builtinPath(name), 'utf8'), builtinPath(name));
}

/** A definition file, or a built-in pipeline by name. */
export async function resolveDefinition(arg: string): Promise<LoadedDefinition> {
  if (looksLikePath(arg)) return loadDefinitionFile(arg);
  if (!builtinNames().includes(arg)) {
    throw new TributaryError(
      'PIPELINE_INVALID',
      `no built-in pipeline '${arg}' (built in: ${builtinNames().join(', ') || 'none'}); give a definition file (.yaml) or one of those names`,
      { pipeline: arg },
    );
  }
  return loadDefinitionFile(builtinPath(arg));
}
