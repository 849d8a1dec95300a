/**
 * The shape of a jobs file, checked key by key with the pipeline definitions' checker
 * (src/pipeline/shape.ts: unknown keys are errors, with the nearest known key
 * suggested). A task's `params` belong to its kind, which checks them (registry.ts).
 */
import { checkShape } from '../../pipeline/shape.ts';
import { cronProblem, parseTimeOfDay, timezoneProblem } from './calendar.ts';

type Shape = NonNullable<Parameters<typeof checkShape>[1]>;
type Field = { shape: Shape; required?: boolean };

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const str: Shape = { t: 'string' };
const ident: Shape = { t: 'string', identifier: true };
const int = (min: number): Shape => ({ t: 'int', min });
const duration: Shape = { t: 'duration' };
const arr = (of: Shape, nonEmpty = false): Shape => ({ t: 'array', of, nonEmpty });
const req = (shape: Shape): Field => ({ shape, required: true });
const obj = (fields: Record<string, Field | Shape>): Shape => ({
  t: 'object',
  fields: Object.fromEntries(
    Object.entries(fields).map(([k, f]) => [k, 'shape' in f ? f : { shape: f as Shape }]),
  ),
});
/** Text that `problem` accepts (returns undefined for). */
const checked = (what: string, problem: (s: string) => string | undefined): Shape => ({
  t: 'union',
  what,
  pick: (v) => (typeof v === 'string' ? (problem(v) ?? str) : str),
});

const CRON = checked('a cron expression', cronProblem);
const TIMEZONE = checked('a time zone', timezoneProblem);
const TIME_OF_DAY = checked('a time of day', (s) =>
  parseTimeOfDay(s) === undefined
    ? `expected a time of day such as '06:00' (24-hour), got '${s}'`
    : undefined,
);
const HTTP_URL = checked('an http(s) URL', (s) => {
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return undefined;
  } catch {}
  return `expected an http:// or https:// URL, got '${s}'`;
});

const RETRY_FIELDS = { retries: int(0), retry_delay: duration, max_retry_delay: duration, timeout: duration };

const TASK: Shape = obj({
  name: req(ident),
  kind: req(str),
  description: str,
  depends_on: arr(ident),
  // Checked by the task's kind (load.ts); here only: a mapping.
  params: { t: 'record', of: str },
  ...RETRY_FIELDS,
});

const SCHEDULE: Shape = {
  t: 'union',
  what: 'a cron expression, or { cron, timezone, date_offset }',
  pick: (v) =>
    typeof v === 'string' ? CRON : obj({ cron: req(CRON), timezone: TIMEZONE, date_offset: int(-366) }),
};

const SLA: Shape = {
  t: 'union',
  what: '{ within: DURATION } or { by: HH:MM }',
  pick: (v) => {
    if (isObject(v) && 'within' in v) return obj({ within: req(duration) });
    if (isObject(v) && 'by' in v) return obj({ by: req(TIME_OF_DAY) });
    return "expected { within: '2h' } (finish within a duration of the scheduled time) or { by: '06:00' } (by a time of day)";
  },
};

const jobFields = (nameRequired: boolean) => ({
  name: nameRequired ? req(ident) : { shape: ident },
  description: str,
  schedule: SCHEDULE,
  max_parallel: int(1),
  sla: SLA,
  tasks: req(arr(TASK, true)),
  ...RETRY_FIELDS,
});

/** One job in the `jobs:` list of jobs.yaml. */
export const JOB: Shape = obj(jobFields(true));
/** A file `jobs/<name>.yaml`: one job, named after the file unless `name:` says otherwise. */
export const JOB_FILE: Shape = obj(jobFields(false));

const ALERTS: Shape = obj({
  webhook: obj({
    url: req(HTTP_URL),
    headers: { t: 'record', of: str },
    timeout: duration,
    attempts: int(1),
    retry_delay: duration,
  }),
});

/** `<project>/jobs.yaml`. */
export const JOBS_FILE: Shape = obj({ alerts: ALERTS, jobs: arr(JOB) });

/** A copy of a job's value whose tasks' `params` are empty: their kinds check them, not the shape. */
export function stripParams(job: unknown): unknown {
  if (!isObject(job) || !Array.isArray(job.tasks)) return job;
  return {
    ...job,
    tasks: job.tasks.map((t) => (isObject(t) && isObject(t.params) ? { ...t, params: {} } : t)),
  };
}

export { checkShape, isObject };
