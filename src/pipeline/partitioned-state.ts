/**
 * The rules of `state: per_partition` (src/stream/partitioned.ts): window and dedup state
 * kept per source partition is exact only when what a window aggregates lives in one
 * partition, and no step numbers the pipeline's batches across partitions.
 */
import { BATCH_RELATION } from '../stream/stateful.ts';
import type { PipelineDefinition, WindowTransformDefinition } from './definition.ts';
import type { Problem } from './shape.ts';

export function partitionedStateProblems(
  def: PipelineDefinition,
  mentions: (sql: string, name: string) => boolean,
): Problem[] {
  if (def.state !== 'per_partition') return [];
  const problems: Problem[] = [];
  if (!('topic' in def.source)) {
    return [
      {
        path: ['state'],
        message:
          "state per partition is for a topic source (its partitions); a table source's state is global: remove 'state'",
      },
    ];
  }
  const key = def.source.key;
  if (key === undefined) {
    problems.push({
      path: ['source'],
      message:
        "state: per_partition needs 'source.key', the field the topic's records are keyed (and so partitioned) by: every window groups by it, so each group's rows are in one partition",
    });
  } else if (def.contract && !def.contract.fields.some((f) => f.name === key)) {
    problems.push({
      path: ['source', 'key'],
      message: `'${key}' is not a field of the contract; expected one of ${def.contract.fields.map((f) => f.name).join(', ')}`,
    });
  }
  (def.transforms ?? []).forEach((t, i) => {
    if ('window' in t) {
      const w = t as WindowTransformDefinition;
      if (key !== undefined && !(w.group_by ?? []).includes(key)) {
        problems.push({
          path: ['transforms', i, 'group_by'],
          message: `with state per partition each partition's window counts only its own records: window '${w.name}' must group by '${key}' (source.key), so that every group lives in one partition; otherwise each partition would emit its own partial value of the same group. Add '${key}' to group_by, or use the global state (one process)`,
        });
      }
    }
    if ('sql' in t && mentions(t.sql, BATCH_RELATION)) {
      problems.push({
        path: ['transforms', i, 'sql'],
        message: `'${BATCH_RELATION}' numbers the pipeline's batches over all partitions, which state per partition does not have: remove it, or use the global state`,
      });
    }
  });
  def.sinks.forEach((s, i) => {
    if (s.type === 'topic') {
      problems.push({
        path: ['sinks', i, 'type'],
        message:
          'a topic sink numbers its output by batch plans over all partitions, which state per partition does not have: write a Delta or PostgreSQL table, or use the global state',
      });
    }
  });
  if (def.quality) {
    problems.push({
      path: ['quality'],
      message:
        'the quality results are numbered by batch plans over all partitions, which state per partition does not have: remove quality, or use the global state',
    });
  }
  return problems;
}
