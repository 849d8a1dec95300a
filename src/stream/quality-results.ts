/**
 * A batch's data-quality results: one record per rule the batch was checked against —
 * the decoder's and contract's rules (each, failed or not), every other rule a rejected
 * record names, and each dedup's and window's check — with how many records it read,
 * passed and failed, and the first failing ones. A function of the batch's plan: the
 * same plan gives the same records (sinks/quality.ts relies on it).
 *
 * What the counts mean (docs/pipelines.md, "Quality results"):
 * - contract rules: `records` are the batch's records; `failed` those rejected naming the
 *   rule — the first rule a record breaks, as the dead-letter record names it, so over
 *   the contract's rules each rejected record is counted once; `passed` those that broke
 *   no rule (accepted). A record rejected by another rule is neither: it was not checked
 *   further.
 * - a dedup (`unique` on its key): the rows it read; failed = dropped as duplicates.
 * - a window (`on_time` on its time): the rows it read; failed = late (behind its
 *   watermark, or without time), whatever the window does with them.
 */
import type { RejectedRecord, RuleRef, StepCheck } from './types.ts';

export interface QualityResult {
  pipeline: string;
  /** The batch's plan number. */
  batch_id: number;
  /** The pipeline's time of the batch (ISO 8601, UTC), as the `batch` relation gives it. */
  batch_time: string | null;
  /** The source (topic or table). */
  source: string;
  /** Per source partition, the offsets the batch covers (inclusive). */
  offsets: Array<{ partition: number; from: number; to: number }>;
  check: 'contract' | 'dedup' | 'window';
  /** The contract's name, or the transform's. */
  step: string;
  field: string;
  rule: string;
  records: number;
  passed: number;
  failed: number;
  /** The first failing records (by partition and offset): the sample column's value, else `partition/offset`. */
  sample_ids: string[];
}

export interface ResultGroup {
  check: QualityResult['check'];
  step: string;
  field: string;
  rule: string;
  records: number;
  passed: number;
  failed: number;
  samples: Array<{ partition: number; offset: number }>;
}

/** A rejected record's field as the results name it: array indexes as `[]` (`items[2].sku` → `items[].sku`). */
export function resultField(field: string): string {
  return field.replace(/\[\d+\]/g, '[]');
}

/** The identity of a result within its batch. */
export function resultKey(r: Pick<QualityResult, 'check' | 'step' | 'field' | 'rule'>): string {
  return `${r.check}\u0000${r.step}\u0000${r.field}\u0000${r.rule}`;
}

/**
 * The batch's results before sample ids are known: the contract's rules (`rules` in order,
 * then any other rule a reject names, sorted), then the steps' checks in order.
 * `rejected`: the batch's rejected records past the results' progress, sorted by
 * partition and offset; `records`: the batch's records past it.
 */
export function resultGroups(args: {
  contract: string | undefined;
  rules: readonly RuleRef[];
  rejected: readonly RejectedRecord[];
  records: number;
  steps: readonly StepCheck[];
  samples: number;
}): ResultGroup[] {
  const { rules, rejected, records, samples } = args;
  const out: ResultGroup[] = [];
  if (args.contract !== undefined && (rules.length > 0 || rejected.length > 0)) {
    const byRule = new Map<string, ResultGroup>();
    const group = (field: string, rule: string) => {
      const key = `${field}\u0000${rule}`;
      let g = byRule.get(key);
      if (!g) {
        g = {
          check: 'contract',
          step: args.contract!,
          field,
          rule,
          records,
          passed: records - rejected.length,
          failed: 0,
          samples: [],
        };
        byRule.set(key, g);
      }
      return g;
    };
    for (const r of rules) group(resultField(r.field), r.rule);
    const declared = byRule.size;
    for (const r of rejected) {
      const g = group(resultField(r.field), r.rule);
      g.failed++;
      if (g.samples.length < samples) g.samples.push({ partition: r.partition, offset: r.offset });
    }
    const all = [...byRule.values()];
    const extra = all
      .slice(declared)
      .sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : a.rule < b.rule ? -1 : 1));
    out.push(...all.slice(0, declared), ...extra);
  }
  for (const s of args.steps) {
    out.push({
      check: s.check,
      step: s.step,
      field: s.field,
      rule: s.rule,
      records: s.records,
      passed: s.records - s.failed,
      failed: s.failed,
      samples: s.samples.slice(0, samples),
    });
  }
  return out;
}

/** The results with their sample ids (`ids`: `partition/offset` → the sample column's text, where known). */
export function qualityResults(
  groups: readonly ResultGroup[],
  ids: ReadonlyMap<string, string>,
  batch: Pick<QualityResult, 'pipeline' | 'batch_id' | 'batch_time' | 'source' | 'offsets'>,
): QualityResult[] {
  return groups.map((g) => ({
    ...batch,
    check: g.check,
    step: g.step,
    field: g.field,
    rule: g.rule,
    records: g.records,
    passed: g.passed,
    failed: g.failed,
    sample_ids: g.samples.map((s) => {
      const at = `${s.partition}/${s.offset}`;
      return ids.get(at) ?? at;
    }),
  }));
}
