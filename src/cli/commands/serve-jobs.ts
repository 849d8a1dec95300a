/**
 * The project whose jobs a server shows at /api/v1/jobs (and lets admins run):
 * `--project DIR`, else `./project` when it holds jobs — the default of `tributary jobs`,
 * so both read the same jobs. The SQL models' task kinds are registered first; the
 * PostgreSQL of their exports is opened only when a run needs it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject, type Project, resolveProjectDir } from '../../jobs/scheduler/index.ts';
import { type OpenedPostgres, openPostgres } from './postgres-args.ts';
import { registerModelKinds } from './project-jobs.ts';

export interface ServedProject {
  project?: Project;
  close(): Promise<void>;
}

const DEFAULT_PROJECT = './project';

const holdsJobs = (dir: string) =>
  ['jobs.yaml', 'jobs.yml', 'jobs'].some((name) => existsSync(join(dir, name)));

export async function servedProject(
  arg: string | undefined,
  dataDir: string,
  say: (line: string) => void,
): Promise<ServedProject> {
  let pg: Promise<OpenedPostgres> | undefined;
  registerModelKinds(async () => {
    pg ??= openPostgres({}, dataDir, say);
    return (await pg).pool;
  });
  const close = async () => {
    if (pg) await (await pg.catch(() => undefined))?.close();
  };
  if (arg !== undefined) return { project: await loadProject(await resolveProjectDir(arg)), close };
  if (!holdsJobs(DEFAULT_PROJECT)) return { close };
  try {
    return { project: await loadProject(DEFAULT_PROJECT), close };
  } catch (err) {
    say(`jobs: not serving the jobs of ${DEFAULT_PROJECT}: ${(err as Error).message}`);
    return { close };
  }
}
