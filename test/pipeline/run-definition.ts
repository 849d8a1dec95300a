/** Runs a pipeline definition as `tributary run --until-caught-up` does, in this process. */
import type { Log } from '../../src/log/log.ts';
import { type CompiledPipeline, compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml, type LoadedDefinition } from '../../src/pipeline/load.ts';

/** Compiles `definition` (YAML text or loaded), drains its source, closes it; returns it (tables still readable). */
export async function runUntilCaughtUp(
  definition: string | LoadedDefinition,
  ctx: { dataDir: string; log: Log },
): Promise<CompiledPipeline> {
  const loaded = typeof definition === 'string' ? fromYaml(definition, 'pipeline.yaml') : definition;
  const c = await compilePipeline(loaded, ctx);
  try {
    await c.pipeline.run({ untilCaughtUp: true });
  } finally {
    await c.pipeline.close();
  }
  return c;
}
