/**
 * Placeholders in task params, filled in when an attempt starts: `{{ date }}` (the
 * run's logical date, YYYY-MM-DD), `{{ scheduled_time }}` (ISO-8601, UTC), `{{ run_id }}`,
 * `{{ job }}` and `{{ task }}` — so a daily task can name its day:
 * `sql: SELECT count(*) FROM silver WHERE event_date = '{{ date }}'`.
 */
import type { Path, Problem } from '../../pipeline/shape.ts';

export const PLACEHOLDERS = ['date', 'scheduled_time', 'run_id', 'job', 'task'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PATTERN = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Placeholders that are not one of PLACEHOLDERS, anywhere in `value` (paths from `at`). */
export function placeholderProblems(value: unknown, at: Path): Problem[] {
  const out: Problem[] = [];
  const walk = (v: unknown, path: Path) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(PATTERN)) {
        if (!(PLACEHOLDERS as readonly string[]).includes(m[1])) {
          out.push({
            path,
            message: `unknown placeholder {{ ${m[1]} }}; the placeholders are ${PLACEHOLDERS.map((p) => `{{ ${p} }}`).join(', ')}`,
          });
        }
      }
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...path, i]);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    }
  };
  walk(value, at);
  return out;
}

/** `value` with every placeholder in its strings replaced (a deep copy). */
export function fillPlaceholders<T>(value: T, values: Record<Placeholder, string>): T {
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string')
      return v.replace(PATTERN, (all, name: string) => values[name as Placeholder] ?? all);
    if (Array.isArray(v)) return v.map(fill);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    }
    return v;
  };
  return fill(value) as T;
}
