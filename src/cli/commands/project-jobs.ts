/**
 * The scheduler inside a long-running command (`run --project`, `demo clickstream`): the
 * project's scheduled jobs fire on their schedules beside the pipeline, with the SQL
 * models' task kinds registered on the process's PostgreSQL (for exports).
 */
import type { PgConnector } from '../../connectors/postgres/client.ts';
import { modelsTaskKinds } from '../../jobs/models/task-kinds.ts';
import {
  type JobEvent,
  loadProject,
  type Project,
  registerTaskKind,
  resolveProjectDir,
  Scheduler,
  taskKind,
} from '../../jobs/scheduler/index.ts';

/** Registers the `models` and `export` task kinds (once per process). */
export function registerModelKinds(postgres: () => Promise<PgConnector>): void {
  const kinds = modelsTaskKinds({ postgres });
  if (taskKind('models') === undefined) registerTaskKind('models', kinds.models);
  if (taskKind('export') === undefined) registerTaskKind('export', kinds.export);
}

export interface ProjectScheduler {
  project: Project;
  scheduler: Scheduler;
  /** Options for runJob of this project's jobs. */
  jobOptions: {
    dataDir: string;
    project: string;
    alerts: Project['alerts'];
    log: (line: string) => void;
    onEvent: (e: JobEvent) => void;
  };
}

/** Loads a project (a folder, or a shipped project's name) and starts its scheduled jobs. */
export async function startProjectScheduler(
  projectArg: string,
  dataDir: string,
  postgres: () => Promise<PgConnector>,
  say: (line: string) => void,
  /** Also told every event of the runs (the server's job metrics). */
  alsoOnEvent?: (e: JobEvent) => void,
): Promise<ProjectScheduler> {
  registerModelKinds(postgres);
  const project = await loadProject(await resolveProjectDir(projectArg));
  const onEvent = (e: JobEvent) => {
    alsoOnEvent?.(e);
    if (e.type === 'run_finished')
      say(`job ${e.job}: run ${e.runId} ${e.state}${e.error ? `: ${e.error}` : ''}`);
    if (e.type === 'sla_missed') say(`job ${e.job}: run ${e.runId} missed its SLA`);
  };
  const jobOptions = { dataDir, project: project.dir, alerts: project.alerts, log: say, onEvent };
  const scheduler = await Scheduler.start({ jobs: project.jobs, ...jobOptions });
  for (const { job, at } of scheduler.upcoming())
    say(`job ${job}: next run at ${new Date(at).toISOString()}`);
  return { project, scheduler, jobOptions };
}
