/**
 * `tributary jobs <subcommand>`: the scheduler from the command line (docs/jobs.md) —
 * list the project's jobs, run one now, show a job's history, or run the scheduler
 * until stopped.
 */
import { TributaryError } from '../../core/errors.ts';
import { modelsTaskKinds } from '../../jobs/models/task-kinds.ts';
import {
  describeSla,
  findJob,
  formatDuration,
  type Job,
  type JobEvent,
  JobHistory,
  loadProject,
  nextFire,
  type Project,
  resolveProjectDir,
  runJob,
  Scheduler,
  type TaskRow,
} from '../../jobs/scheduler/index.ts';
import { registerTaskKind, taskKind } from '../../jobs/scheduler/registry.ts';
import { jsonText } from '../../query/format.ts';
import { DEFAULT_DATA_DIR, parseCommand } from './options.ts';
import { type OpenedPostgres, openPostgres, POSTGRES_OPTIONS } from './postgres-args.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary jobs <subcommand> [options]

subcommands:
  list                         the project's jobs: schedule, next run, SLA, last run
  run <job> [--date D]         run a job once, now, printing each task; exit 0 if it
                               succeeded, 1 if not (D: its logical date, YYYY-MM-DD)
  history <job> [--limit N]    the job's recent runs and their tasks (default 10)
  serve                        run the scheduler until Ctrl-C

options:
  --project DIR   the project folder: jobs.yaml and/or jobs/<name>.yaml (default ./project);
                  a name such as 'orders' is a project shipped with Tributary
  --data-dir DIR  where tables, history and alerts live (default: $TRIBUTARY_DATA_DIR or ${DEFAULT_DATA_DIR})
  --format F      list, history: text (default) or json
  --postgres URL  run, serve: the database of tasks that export to PostgreSQL (default:
                  $TRIBUTARY_POSTGRES, else the embedded PostgreSQL of the data directory,
                  started when a task needs it; --postgres-port P as for 'run')
  -h, --help      show this help`;

const OPTIONS = {
  project: { type: 'string' },
  'data-dir': { type: 'string' },
  date: { type: 'string' },
  limit: { type: 'string' },
  format: { type: 'string' },
  ...POSTGRES_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

const SUBCOMMANDS: Record<string, { options: string[]; job: boolean }> = {
  list: { options: ['format'], job: false },
  run: { options: ['date', 'postgres', 'postgres-port'], job: true },
  history: { options: ['limit', 'format'], job: true },
  serve: { options: ['postgres', 'postgres-port'], job: false },
};

function usageError(message: string): number {
  console.error(`tributary jobs: ${message}\n\n${USAGE}`);
  return 2;
}

const utc = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const time = (ms: number | undefined) => (ms === undefined ? '' : utc(ms));

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (sub === undefined) return usageError('give a subcommand');
  const spec = SUBCOMMANDS[sub];
  if (spec === undefined) return usageError(`unknown subcommand '${sub}'`);
  if (rest.length !== (spec.job ? 1 : 0)) {
    return usageError(spec.job ? `'jobs ${sub}' takes one job name` : `'jobs ${sub}' takes no arguments`);
  }
  for (const name of Object.keys(values)) {
    if (!['project', 'data-dir', 'help', ...spec.options].includes(name)) {
      return usageError(`'jobs ${sub}' does not take --${name}`);
    }
  }
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json')
    return usageError(`unknown --format '${format}'; use text or json`);
  const dataDir = values['data-dir'] ?? (process.env.TRIBUTARY_DATA_DIR || DEFAULT_DATA_DIR);
  // SQL models as task kinds; the database of exports is opened when a task needs it.
  let pg: Promise<OpenedPostgres> | undefined;
  const kinds = modelsTaskKinds({
    postgres: async () => {
      pg ??= openPostgres(values, dataDir);
      return (await pg).pool;
    },
  });
  if (taskKind('models') === undefined) registerTaskKind('models', kinds.models);
  if (taskKind('export') === undefined) registerTaskKind('export', kinds.export);
  try {
    return await subcommand(sub, rest, values, dataDir, format);
  } finally {
    if (pg) await (await pg.catch(() => undefined))?.close();
  }
}

async function subcommand(
  sub: string,
  rest: string[],
  values: { project?: string; date?: string; limit?: string },
  dataDir: string,
  format: string,
): Promise<number> {
  const project = await loadProject(await resolveProjectDir(values.project ?? './project'));
  switch (sub) {
    case 'list':
      return list(project, dataDir, format);
    case 'run':
      return runOnce(findJob(project, rest[0]), project, dataDir, values.date);
    case 'history': {
      const limit = values.limit === undefined ? 10 : Number(values.limit);
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `--limit must be a whole number ≥ 1, not '${values.limit}'`,
          {},
        );
      }
      return history(findJob(project, rest[0]), dataDir, limit, format);
    }
    default:
      return serve(project, dataDir);
  }
}

function schedule(job: Job): string {
  if (job.schedule === undefined) return 'on demand';
  return `${job.schedule.cron} (${job.schedule.timezone})`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

async function list(project: Project, dataDir: string, format: string): Promise<number> {
  if (project.jobs.length === 0) {
    console.error(`no jobs in ${project.dir} (looked for jobs.yaml and jobs/*.yaml); see docs/jobs.md`);
    if (format === 'json') console.log('[]');
    return 0;
  }
  const history = await JobHistory.open(dataDir, { now: () => Date.now() });
  const now = Date.now();
  const entries = [];
  for (const job of project.jobs) {
    const [last] = await history.runs({ job: job.name, limit: 1 });
    entries.push({
      job: job.name,
      description: job.description ?? null,
      schedule: job.schedule
        ? { cron: job.schedule.cron, timezone: job.schedule.timezone, date_offset: job.schedule.dateOffset }
        : null,
      next_run: job.schedule ? time(nextFire(job.schedule, now)) || null : null,
      sla: job.sla ? describeSla(job.sla) : null,
      tasks: job.tasks.map((t) => ({ name: t.name, kind: t.kind, depends_on: t.dependsOn })),
      last_run: last ? { run_id: last.runId, state: last.state, started_at: utc(last.startedAt) } : null,
    });
  }
  if (format === 'json') {
    console.log(jsonText(entries));
    return 0;
  }
  const rows = entries.map((e, i) => [
    e.job,
    schedule(project.jobs[i]),
    e.next_run ?? '-',
    e.sla ?? '-',
    String(e.tasks.length),
    e.last_run ? `${e.last_run.state} ${e.last_run.started_at}` : '-',
  ]);
  console.log(table(['JOB', 'SCHEDULE', 'NEXT RUN (UTC)', 'SLA', 'TASKS', 'LAST RUN'], rows));
  return 0;
}

function taskLine(t: TaskRow, width: number): string {
  const took =
    t.startedAt !== undefined && t.endedAt !== undefined
      ? ` in ${formatDuration(t.endedAt - t.startedAt)}`
      : '';
  const tries = t.attempts > 1 ? ` after ${t.attempts} attempts` : '';
  const detail =
    t.state === 'succeeded'
      ? t.output
        ? `  ${JSON.stringify(t.output)}`
        : ''
      : t.error
        ? `: ${t.error}`
        : '';
  return `  ${t.task.padEnd(width)}  ${t.state}${took}${tries}${detail}`;
}

/** Prints a run's progress as it goes, one line per task event (`stamp`: each line starts with the time). */
function printer(width: number, stamp = false): (e: JobEvent) => void {
  const console = stamp
    ? { log: (line: string) => globalThis.console.log(`${utc(Date.now())} ${line}`) }
    : globalThis.console;
  return (e) => {
    switch (e.type) {
      case 'run_started':
        console.log(`run ${e.runId} of ${e.job} (date ${e.date}, scheduled ${utc(e.scheduledTime)})`);
        break;
      case 'task_started':
        console.log(`  ${e.task.padEnd(width)}  started${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`);
        break;
      case 'task_retry':
        console.log(
          `  ${e.task.padEnd(width)}  attempt ${e.attempt} failed: ${e.error}; retrying in ${formatDuration(e.delayMs)}`,
        );
        break;
      case 'task_finished':
        console.log(taskLine(e.task, width));
        break;
      case 'run_skipped':
        console.log(`${e.job}: the run scheduled for ${utc(e.scheduledTime)} ${e.reason}`);
        break;
      case 'sla_missed':
        console.log(`${e.job}: run ${e.runId} missed its SLA (deadline ${utc(e.deadline)})`);
        break;
      case 'run_finished':
        console.log(`run ${e.runId} of ${e.job} ${e.state}${e.error ? `: ${e.error}` : ''}`);
        break;
    }
  };
}

async function runOnce(
  job: Job,
  project: Project,
  dataDir: string,
  date: string | undefined,
): Promise<number> {
  const stop = new AbortController();
  const removeSignals = onStopSignals(() => {
    console.error('stopping: no new task starts; waiting for the tasks under way');
    stop.abort();
  });
  const width = Math.max(...job.tasks.map((t) => t.name.length));
  const started = Date.now();
  try {
    const res = await runJob(job, {
      dataDir,
      project: project.dir,
      alerts: project.alerts,
      ...(date !== undefined && { date }),
      signal: stop.signal,
      onEvent: printer(width),
    });
    console.log(`${res.state} in ${formatDuration(Date.now() - started)}`);
    return res.state === 'succeeded' ? 0 : 1;
  } finally {
    removeSignals();
  }
}

async function history(job: Job, dataDir: string, limit: number, format: string): Promise<number> {
  const h = await JobHistory.open(dataDir, { now: () => Date.now() });
  const runs = await h.runs({ job: job.name, limit });
  const tasks = await h.tasks(runs.map((r) => r.runId));
  const order = new Map(job.tasks.map((t, i) => [t.name, i]));
  const tasksOf = (runId: string) =>
    tasks
      .filter((t) => t.runId === runId)
      .sort((a, b) => (order.get(a.task) ?? 1e9) - (order.get(b.task) ?? 1e9));
  if (format === 'json') {
    console.log(jsonText(runs.map((r) => ({ ...r, tasks: tasksOf(r.runId) }))));
    return 0;
  }
  if (runs.length === 0) {
    console.log(`job ${job.name} has not run yet (in ${dataDir})`);
    return 0;
  }
  const width = Math.max(...tasks.map((t) => t.task.length), 4);
  for (const r of runs) {
    const took = r.endedAt !== undefined ? ` in ${formatDuration(r.endedAt - r.startedAt)}` : '';
    console.log(
      `${r.runId}  ${r.state}${took}  scheduled ${utc(r.scheduledTime)}  date ${r.date}  ${r.trigger}  started ${utc(r.startedAt)}`,
    );
    if (r.error) console.log(`  ${r.error}`);
    for (const t of tasksOf(r.runId)) console.log(taskLine(t, width));
  }
  return 0;
}

async function serve(project: Project, dataDir: string): Promise<number> {
  const scheduled = project.jobs.filter((j) => j.schedule !== undefined);
  if (scheduled.length === 0) {
    console.error(`no scheduled jobs in ${project.dir}: nothing to serve (a job needs 'schedule:')`);
    return 2;
  }
  const width = Math.max(...project.jobs.flatMap((j) => j.tasks.map((t) => t.name.length)));
  const print = printer(width, true);
  const s = await Scheduler.start({
    jobs: project.jobs,
    dataDir,
    project: project.dir,
    alerts: project.alerts,
    onEvent: (e) => {
      if (e.type !== 'task_started') print(e);
    },
  });
  for (const { job, at } of s.upcoming()) console.log(`${job}: next run at ${utc(at)}`);
  console.log('scheduler running; Ctrl-C stops it');
  await new Promise<void>((resolve) => {
    const remove = onStopSignals(() => {
      console.error('stopping: no new run starts; waiting for the runs under way');
      void s.stop().finally(() => {
        remove();
        resolve();
      });
    });
  });
  return 0;
}
