/**
 * The jobs of a project folder:
 *
 * - `<project>/jobs.yaml` (or `.yml`): `alerts:` (the webhook) and a list `jobs:`;
 * - `<project>/jobs/<name>.yaml` (or `.yml`): one job per file, named after the file
 *   unless it says `name:`.
 *
 * Either, both or neither may exist; job names are unique across them. Every problem —
 * shape, unknown kind, a kind's params, unknown or cyclic `depends_on`, a cron
 * expression or time zone — is reported at once with its file, line and column
 * (JOB_INVALID). `${NAME}` in the webhook's URL and headers is read from the
 * environment, so secrets stay out of the file.
 */
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { TributaryError } from '../../core/errors.ts';
import { parseDuration } from '../../pipeline/durations.ts';
import type { Path, Problem } from '../../pipeline/shape.ts';
import { parseTimeOfDay } from './calendar.ts';
import { dagProblems, topoOrder } from './dag.ts';
import { checkShape, isObject, JOB, JOB_FILE, JOBS_FILE, stripParams } from './job-shape.ts';
import { taskKind, taskKindNames } from './registry.ts';
import { placeholderProblems } from './templates.ts';
import { type AlertConfig, DEFAULTS, type Job, type RetryPolicy, type Sla, type TaskSpec } from './types.ts';
import { type FileProblem, invalidJobs, parseYamlFile, type YamlFile } from './yaml.ts';

export const DEFAULT_PROJECT_DIR = './project';

/** The projects that ship with Tributary (this file is src/jobs/scheduler/ or dist/jobs/scheduler/). */
export const BUILTIN_PROJECTS_DIR = join(import.meta.dirname, '..', '..', '..', 'projects');

/**
 * The folder `--project` names: a path, or the name of a project shipped in the
 * package's `projects/` (`orders`) when no folder of that name is here.
 */
export async function resolveProjectDir(arg: string): Promise<string> {
  if (arg.includes('/') || arg.includes('\\')) return arg;
  const here = await fs.stat(arg).catch(() => undefined);
  if (here?.isDirectory()) return arg;
  const builtin = join(BUILTIN_PROJECTS_DIR, arg);
  return (await fs.stat(builtin).catch(() => undefined))?.isDirectory() ? builtin : arg;
}

export interface Project {
  dir: string;
  jobs: Job[];
  alerts: AlertConfig;
  /** The files the jobs were read from. */
  files: string[];
}

interface RawJob {
  file: YamlFile;
  /** Path of the job inside its file. */
  at: Path;
  value: Record<string, unknown>;
  name: string;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TributaryError(
      'JOB_INVALID',
      `cannot read ${path}: ${(err as Error).message}`,
      { file: path },
      err,
    );
  }
}

async function projectFiles(dir: string): Promise<{ main?: string; perJob: string[] }> {
  let main: string | undefined;
  for (const name of ['jobs.yaml', 'jobs.yml']) {
    const path = join(dir, name);
    if ((await readIfExists(path)) !== undefined) {
      if (main !== undefined) {
        throw new TributaryError('JOB_INVALID', `${dir} has both jobs.yaml and jobs.yml; keep one`, { dir });
      }
      main = path;
    }
  }
  let entries: string[] = [];
  try {
    entries = await fs.readdir(join(dir, 'jobs'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const perJob = entries
    .filter((e) => /\.ya?ml$/.test(e))
    .sort()
    .map((e) => join(dir, 'jobs', e));
  return { main, perJob };
}

/** `${NAME}` → the variable's value; problems for unset ones. */
function expandEnv(text: string, env: NodeJS.ProcessEnv, path: Path, problems: Problem[]): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
    const v = env[name];
    if (v === undefined) {
      problems.push({ path, message: `the environment variable ${name} is not set` });
      return '';
    }
    return v;
  });
}

function alertConfig(value: unknown, env: NodeJS.ProcessEnv, problems: Problem[]): AlertConfig {
  if (!isObject(value) || !isObject(value.webhook)) return {};
  const w = value.webhook;
  const url = expandEnv(String(w.url ?? ''), env, ['alerts', 'webhook', 'url'], problems);
  const headers: Record<string, string> = {};
  if (isObject(w.headers)) {
    for (const [k, v] of Object.entries(w.headers)) {
      headers[k] = expandEnv(String(v), env, ['alerts', 'webhook', 'headers', k], problems);
    }
  }
  return {
    webhook: {
      url,
      headers,
      timeoutMs: w.timeout === undefined ? DEFAULTS.webhookTimeoutMs : parseDuration(w.timeout),
      attempts: typeof w.attempts === 'number' ? w.attempts : DEFAULTS.webhookAttempts,
      retryDelayMs: w.retry_delay === undefined ? DEFAULTS.webhookRetryDelayMs : parseDuration(w.retry_delay),
    },
  };
}

/** `alerts` with the webhook URL expanded (one that could not be is a problem already: not checked again). */
function withUrl(
  alerts: Record<string, unknown>,
  url: string,
  envProblems: Problem[],
): Record<string, unknown> {
  const unset = envProblems.some((p) => p.path[2] === 'url');
  const webhook = {
    ...(alerts.webhook as Record<string, unknown>),
    url: unset ? 'http://unset.invalid/' : url,
  };
  return { ...alerts, webhook };
}

function retryPolicy(v: Record<string, unknown>, base?: RetryPolicy): RetryPolicy {
  return {
    retries: typeof v.retries === 'number' ? v.retries : (base?.retries ?? DEFAULTS.retries),
    delayMs:
      v.retry_delay !== undefined ? parseDuration(v.retry_delay) : (base?.delayMs ?? DEFAULTS.retryDelayMs),
    maxDelayMs:
      v.max_retry_delay !== undefined
        ? parseDuration(v.max_retry_delay)
        : (base?.maxDelayMs ?? DEFAULTS.maxRetryDelayMs),
  };
}

/** A job's value (shape already checked) as the scheduler's Job. */
function toJob(raw: RawJob): Job {
  const v = raw.value;
  const retry = retryPolicy(v);
  const timeoutMs = v.timeout === undefined ? DEFAULTS.timeoutMs : parseDuration(v.timeout);
  const tasks: TaskSpec[] = (v.tasks as Record<string, unknown>[]).map((t) => ({
    name: t.name as string,
    kind: t.kind as string,
    params: (t.params as Record<string, unknown> | undefined) ?? {},
    dependsOn: (t.depends_on as string[] | undefined) ?? [],
    retry: retryPolicy(t, retry),
    timeoutMs: t.timeout === undefined ? timeoutMs : parseDuration(t.timeout),
    ...(typeof t.description === 'string' && { description: t.description }),
  }));
  let schedule: Job['schedule'];
  if (typeof v.schedule === 'string') schedule = { cron: v.schedule, timezone: 'UTC', dateOffset: 0 };
  else if (isObject(v.schedule)) {
    schedule = {
      cron: v.schedule.cron as string,
      timezone: (v.schedule.timezone as string | undefined) ?? 'UTC',
      dateOffset: (v.schedule.date_offset as number | undefined) ?? 0,
    };
  }
  let sla: Sla | undefined;
  if (isObject(v.sla)) {
    sla =
      v.sla.within !== undefined
        ? { withinMs: parseDuration(v.sla.within) }
        : { by: parseTimeOfDay(v.sla.by as string)! };
  }
  const pos = raw.file.locate(raw.at);
  return {
    name: raw.name,
    ...(typeof v.description === 'string' && { description: v.description }),
    ...(schedule && { schedule }),
    tasks: topoOrder(tasks),
    maxParallel: typeof v.max_parallel === 'number' ? v.max_parallel : DEFAULTS.maxParallel,
    ...(sla && { sla }),
    source: `${raw.file.file}${pos ? `:${pos.line}:${pos.col}` : ''}`,
  };
}

/** Problems of a job beyond its shape: its graph, its tasks' kinds and params. */
async function jobProblems(raw: RawJob, project: string): Promise<Problem[]> {
  const out: Problem[] = [];
  const tasks = raw.value.tasks as Record<string, unknown>[];
  const nodes = tasks.map((t) => ({ name: t.name as string, dependsOn: (t.depends_on as string[]) ?? [] }));
  out.push(...dagProblems(nodes));
  for (const [i, t] of tasks.entries()) {
    const kind = taskKind(t.kind as string);
    if (kind === undefined) {
      out.push({
        path: ['tasks', i, 'kind'],
        message: `unknown task kind '${t.kind}'; the kinds are ${taskKindNames().join(', ')}`,
      });
      continue;
    }
    const params = (t.params as Record<string, unknown> | undefined) ?? {};
    const at: Path = ['tasks', i, 'params'];
    out.push(...placeholderProblems(params, at));
    const problems = await kind.check(params, { job: raw.name, task: t.name as string, project });
    for (const p of problems) out.push({ ...p, path: [...at, ...p.path] });
  }
  return out;
}

/** Reads and checks every job of the project folder `dir` (a folder without jobs gives none). */
export async function loadProject(dir: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Project> {
  const env = opts.env ?? process.env;
  const { main, perJob } = await projectFiles(dir);
  const problems: FileProblem[] = [];
  const raws: RawJob[] = [];
  let alerts: AlertConfig = {};
  const add = (file: YamlFile, at: Path, list: Problem[]) => {
    for (const p of list) problems.push({ ...p, path: [...at, ...p.path], file });
  };
  if (main !== undefined) {
    const file = parseYamlFile((await readIfExists(main)) ?? '', main);
    const value = file.value ?? {};
    const jobs = isObject(value) && Array.isArray(value.jobs) ? value.jobs : [];
    const envProblems: Problem[] = [];
    if (isObject(value)) alerts = alertConfig(value.alerts, env, envProblems);
    add(file, [], envProblems);
    const shaped = isObject(value)
      ? {
          ...value,
          ...(Array.isArray(value.jobs) && { jobs: jobs.map(stripParams) }),
          // The webhook is checked as it will be used: with the environment's values.
          ...(alerts.webhook &&
            isObject(value.alerts) && { alerts: withUrl(value.alerts, alerts.webhook.url, envProblems) }),
        }
      : value;
    const shapeProblems = checkShape(shaped, JOBS_FILE);
    add(file, [], shapeProblems);
    jobs.forEach((j, i) => {
      const bad = shapeProblems.some((p) => p.path[0] === 'jobs' && p.path[1] === i);
      if (!bad && isObject(j)) raws.push({ file, at: ['jobs', i], value: j, name: j.name as string });
    });
  }
  for (const path of perJob) {
    const file = parseYamlFile((await readIfExists(path)) ?? '', path);
    const shapeProblems = checkShape(stripParams(file.value), JOB_FILE);
    add(file, [], shapeProblems);
    if (shapeProblems.length === 0 && isObject(file.value)) {
      const name = (file.value.name as string | undefined) ?? basename(path).replace(/\.ya?ml$/, '');
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        add(
          file,
          [],
          [
            {
              path: [],
              message: `'${name}' is not a job name (letters, digits and _); rename the file or give 'name:'`,
            },
          ],
        );
      } else {
        raws.push({ file, at: [], value: file.value, name });
      }
    }
  }
  const seen = new Map<string, RawJob>();
  for (const raw of raws) {
    const first = seen.get(raw.name);
    if (first !== undefined) {
      const pos = first.file.locate(first.at);
      add(raw.file, raw.at, [
        {
          path: raw.value.name === undefined ? [] : ['name'],
          message: `a second job named '${raw.name}' (the first is at ${first.file.file}${pos ? `:${pos.line}:${pos.col}` : ''})`,
        },
      ]);
    } else {
      seen.set(raw.name, raw);
    }
    add(raw.file, raw.at, await jobProblems(raw, dir));
  }
  if (problems.length > 0) invalidJobs(problems);
  return {
    dir,
    jobs: [...seen.values()].map(toJob),
    alerts,
    files: [...(main === undefined ? [] : [main]), ...perJob],
  };
}

/** The job named `name`, or JOB_NOT_FOUND listing the project's jobs. */
export function findJob(project: Project, name: string): Job {
  const job = project.jobs.find((j) => j.name === name);
  if (job !== undefined) return job;
  const names = project.jobs.map((j) => j.name);
  throw new TributaryError(
    'JOB_NOT_FOUND',
    `no job named '${name}' in ${project.dir}; ${names.length > 0 ? `its jobs are ${names.join(', ')}` : 'it has no jobs (looked for jobs.yaml and jobs/*.yaml)'}. Use --project to look elsewhere`,
    { job: name, project: project.dir, jobs: names },
  );
}

/** For a job given in code (tests, other parts of Tributary): the same checks as a file's. */
export async function checkJobValue(
  value: Record<string, unknown>,
  opts: { project?: string; file?: string } = {},
): Promise<Job> {
  const file: YamlFile = { file: opts.file ?? 'job definition', value, locate: () => undefined };
  const problems: FileProblem[] = checkShape(stripParams(value), JOB).map((p) => ({ ...p, file }));
  if (problems.length === 0) {
    const raw: RawJob = { file, at: [], value, name: value.name as string };
    for (const p of await jobProblems(raw, opts.project ?? '.')) problems.push({ ...p, file });
    if (problems.length === 0) return toJob(raw);
  }
  invalidJobs(problems);
}
