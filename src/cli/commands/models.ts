/**
 * `tributary models run | test | export | graph`: SQL models of a project folder
 * (docs/models.md) over the tables of a data directory.
 */
import { performance } from 'node:perf_hooks';
import { formatExpectations, formatOutcome, formatRunSummary, formatTest } from '../../jobs/models/format.ts';
import { buildGraph, formatDot, formatGraph, selectModels } from '../../jobs/models/graph.ts';
import { loadProject, resolveProjectDir } from '../../jobs/models/project.ts';
import { exportModels, type ModelsEvent, runModels, testModels } from '../../jobs/models/run.ts';
import { Progress } from '../progress.ts';
import { PLAIN_OPTION, PLAIN_USAGE } from '../terminal.ts';
import { intOption } from './log-args.ts';
import { DEFAULT_DATA_DIR, parseCommand } from './options.ts';
import { type OpenedPostgres, openPostgres, POSTGRES_OPTIONS } from './postgres-args.ts';

const USAGE = `usage: tributary models run    [--select SEL] [--partition COL=VALUE] [options]
       tributary models test   [--select SEL] [--partition COL=VALUE] [options]
       tributary models export [--select SEL] [--partition COL=VALUE] [options]
       tributary models graph  [--select SEL] [--format text|dot] [--project DIR]

SQL models (docs/models.md): one SELECT per models/<name>.sql of a project folder,
reading ref('model') and source('table'); each model is a Delta table tables/<name>.

  run      runs the selected models in dependency order (one commit each), checks their
           expectations, exports them to PostgreSQL; prints rows, version, time per model
  test     checks the expectations of the selected models and their sources, only
  export   exports the selected models' current tables to PostgreSQL, only
  graph    prints the models in run order with what each depends on

options:
  --project DIR          the project folder (default: $TRIBUTARY_PROJECT or ./project), or
                         the name of a shipped project (clickstream)
  --data-dir DIR         where tables live (default: $TRIBUTARY_DATA_DIR or ${DEFAULT_DATA_DIR})
  --select SEL           name, name+ (and what depends on it), +name (and what it depends
                         on), +name+; repeatable or space-separated (default: every model)
  --partition COL=VALUE  recompute only this partition of incremental models (one commit
                         replaces it); repeatable, or VALUE,VALUE (default: rebuild whole)
  --no-export            run without exporting to PostgreSQL
  --sample N             failing rows kept per expectation (default 5)
  --format F             run/test: text (default) or json; graph: text (default) or dot
  --postgres URL         the database of exports: postgres://user:password@host:port/db
                         (default: $TRIBUTARY_POSTGRES; neither: the embedded PostgreSQL
                         of the data directory)
  --postgres-port PORT   the embedded PostgreSQL serves 127.0.0.1:PORT
${PLAIN_USAGE.replace('  --plain      ', '  --plain                ')}
                         (run: the model running, on stderr, shown only on a terminal)
  -h, --help             show this help

Exit codes: 0 every model ran and no expectation of severity error failed; 1 otherwise;
2 a usage mistake or an invalid project.`;

const OPTIONS = {
  ...POSTGRES_OPTIONS,
  project: { type: 'string' },
  'data-dir': { type: 'string' },
  select: { type: 'string', multiple: true },
  partition: { type: 'string', multiple: true },
  'no-export': { type: 'boolean' },
  sample: { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...PLAIN_OPTION,
} as const;

const SUBCOMMANDS = ['run', 'test', 'export', 'graph'];

/**
 * On a terminal, a line under the models done so far says which one runs and for how
 * long (stderr, redrawn every second); the lines of models done replace it.
 */
class RunningModel {
  private readonly progress: Progress;
  private timer?: NodeJS.Timeout;

  constructor(progress: Progress) {
    this.progress = progress;
  }

  start(e: { model: string; index: number; total: number }): void {
    this.stop();
    const t0 = performance.now();
    const show = () =>
      this.progress.update(
        `models: ${e.index}/${e.total} done, running ${e.model} (${Math.round((performance.now() - t0) / 1000)} s)`,
      );
    show();
    this.timer = setInterval(show, 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.progress.clear();
  }
}

function printEvent(e: ModelsEvent, width: number, running: RunningModel): void {
  if (e.type === 'model_start') {
    running.start(e);
    return;
  }
  running.stop();
  if (e.type === 'start') {
    console.log(
      `run ${e.runId}: ${e.models.length} model${e.models.length === 1 ? '' : 's'}${e.partition ? `, partition ${e.partition}` : ''}`,
    );
  } else if (e.type === 'sources') {
    for (const target of new Set(e.results.map((r) => r.target))) {
      const results = e.results.filter((r) => r.target === target);
      console.log(`source ${target} (version ${results[0].tableVersion})`);
      for (const line of formatExpectations(results)) console.log(line);
    }
  } else {
    for (const line of formatOutcome(e.outcome, width)) console.log(line);
  }
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const sub = positionals[0];
  if (sub === undefined || !SUBCOMMANDS.includes(sub) || positionals.length > 1) {
    console.error(
      `tributary models: ${sub === undefined ? 'give a subcommand' : `unknown or extra argument '${positionals.slice(sub && SUBCOMMANDS.includes(sub) ? 1 : 0).join(' ')}'`}\n\n${USAGE}`,
    );
    return 2;
  }
  const format = values.format ?? 'text';
  const formats = sub === 'graph' ? ['text', 'dot'] : ['text', 'json'];
  if (!formats.includes(format)) {
    console.error(`tributary models ${sub}: unknown --format '${format}'; use ${formats.join(' or ')}`);
    return 2;
  }
  const projectArg = values.project ?? (process.env.TRIBUTARY_PROJECT || './project');
  const project = await loadProject(resolveProjectDir(projectArg));
  const dataDir = values['data-dir'] ?? (process.env.TRIBUTARY_DATA_DIR || DEFAULT_DATA_DIR);
  const select = values.select;

  if (sub === 'graph') {
    const graph = buildGraph(project);
    const names = selectModels(graph, select);
    console.log(format === 'dot' ? formatDot(graph, names) : formatGraph(graph, names));
    return 0;
  }

  const sampleSize = intOption('sample', values.sample);
  const json = format === 'json';
  const width = Math.max(...[...project.models.keys()].map((n) => n.length), 8);
  const running = new RunningModel(new Progress({ plain: values.plain, liveOnly: true }));
  const onEvent = json ? undefined : (e: ModelsEvent) => printEvent(e, width, running);
  const common = { project, dataDir, select, partition: values.partition, sampleSize, onEvent };
  const t0 = performance.now();

  if (sub === 'test') {
    const result = await testModels(common);
    if (json) console.log(JSON.stringify(result, null, 2));
    else for (const line of formatTest(result)) console.log(line);
    return result.ok ? 0 : 1;
  }

  // run and export: open PostgreSQL only when a selected model exports.
  const graph = buildGraph(project);
  const exporting = selectModels(graph, select).some((n) => project.models.get(n)!.config.export);
  const wantsDb = exporting && !(sub === 'run' && values['no-export']);
  let db: OpenedPostgres | undefined;
  try {
    if (wantsDb) db = await openPostgres(values, dataDir);
    if (sub === 'export') {
      if (!db) {
        console.log('no selected model has an export');
        return 0;
      }
      const result = await exportModels({ ...common, postgres: db.pool });
      if (json) console.log(JSON.stringify(result, null, 2));
      else
        for (const e of result.exports) {
          console.log(
            `${e.model.padEnd(width)}  → postgres ${e.table}: ${e.rows} rows (replaced ${e.deleted}) from version ${e.version}`,
          );
        }
      return 0;
    }
    const result = await runModels({ ...common, postgres: db?.pool, exports: wantsDb });
    if (json) console.log(JSON.stringify(result, null, 2));
    else console.log(formatRunSummary(result, performance.now() - t0));
    return result.ok ? 0 : 1;
  } finally {
    running.stop();
    await db?.close();
  }
}
