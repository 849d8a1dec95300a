/**
 * The scheduler's public API (docs/jobs.md): jobs from a project folder, task kinds, one
 * run of a job, and the scheduler loop. Importing it registers the built-in task kinds
 * (`maintenance`, `sql`); other parts register theirs with `registerTaskKind`.
 */
import { registerBuiltinKinds } from './kinds/builtin.ts';

registerBuiltinKinds();

export { ALERTS_TABLE, type Alert, Alerter, type AlertInput, webhookBody } from './alerts.ts';
export { describeSla, formatDuration, localDate, nextFire, slaDeadline } from './calendar.ts';
export { JobHistory, RUNS_TABLE, type RunRow, TASKS_TABLE, type TaskRow } from './history.ts';
export { checkParams, P, type ParamShape, plain } from './kinds/params.ts';
export {
  BUILTIN_PROJECTS_DIR,
  checkJobValue,
  DEFAULT_PROJECT_DIR,
  findJob,
  loadProject,
  type Project,
  resolveProjectDir,
} from './load.ts';
export {
  type CheckContext,
  type Problem,
  registerTaskKind,
  type TaskAlert,
  type TaskContext,
  type TaskKind,
  type TaskOutput,
  taskKind,
  taskKindNames,
} from './registry.ts';
export { type JobEvent, type RunJobOptions, type RunResult, runJob } from './run.ts';
export { Scheduler, type SchedulerOptions } from './scheduler.ts';
export { PLACEHOLDERS } from './templates.ts';
export type { AlertConfig, Job, RunState, Sleep, TaskSpec, TaskState, WebhookConfig } from './types.ts';
export { realSleep } from './types.ts';
