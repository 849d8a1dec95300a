/**
 * Changes to a definition given at run time (`tributary run orders --set
 * sinks.orders_current.commit_interval=5s`): a dotted path to a key, where a list of
 * named entries (sources, transforms, sinks, tables, fields) is addressed by the entry's
 * name, and a value read as YAML (`5s`, `100`, `true`, `[a, b]`). The result is checked
 * like any definition, so a wrong path or value is reported as such.
 */
import { parse } from 'yaml';
import { TributaryError } from '../core/errors.ts';
import type { PipelineDefinition } from './definition.ts';

export function applySet(def: PipelineDefinition, assignment: string): PipelineDefinition {
  const eq = assignment.indexOf('=');
  if (eq <= 0) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `--set expects PATH=VALUE (e.g. runtime.trigger=1s or sinks.NAME.commit_interval=5s), got '${assignment}'`,
      { set: assignment },
    );
  }
  const path = assignment.slice(0, eq).split('.');
  const value: unknown = parse(assignment.slice(eq + 1));
  const out = structuredClone(def) as unknown as Record<string, unknown>;
  let node: unknown = out;
  for (let i = 0; i < path.length - 1; i++) {
    const step = path[i];
    let next: unknown;
    if (Array.isArray(node)) {
      next = node.find((e) => (e as { name?: unknown })?.name === step) ?? node[Number(step)];
    } else if (node !== null && typeof node === 'object') {
      const obj = node as Record<string, unknown>;
      obj[step] ??= {};
      next = obj[step];
    }
    if (next === undefined || next === null || typeof next !== 'object') {
      throw new TributaryError(
        'CONFIG_INVALID',
        `--set ${assignment}: '${path.slice(0, i + 1).join('.')}' names nothing in the definition`,
        { set: assignment },
      );
    }
    node = next;
  }
  const last = path[path.length - 1];
  if (Array.isArray(node)) {
    throw new TributaryError('CONFIG_INVALID', `--set ${assignment}: cannot replace a list entry`, {
      set: assignment,
    });
  }
  (node as Record<string, unknown>)[last] = value;
  return out as unknown as PipelineDefinition;
}
