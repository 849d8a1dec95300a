/**
 * The `tributary` command: a thin dispatcher. Each command group lives in its own file
 * under src/cli/commands/ and exports `run(args)`, returning the process exit code.
 */
import { isTributaryError } from '../core/errors.ts';

interface CommandModule {
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  table: {
    summary: 'create | write | show | history | optimize | vacuum | checkpoint a Delta table',
    load: () => import('./commands/table.ts'),
  },
  query: { summary: 'run DuckDB SQL over tables', load: () => import('./commands/query.ts') },
  topics: { summary: 'create | list | describe | delete topics', load: () => import('./commands/topics.ts') },
  produce: {
    summary: 'produce NDJSON lines from stdin to a topic',
    load: () => import('./commands/produce.ts'),
  },
  consume: { summary: 'print records of a topic', load: () => import('./commands/consume.ts') },
  generate: {
    summary: 'generate a scenario’s events into its topic',
    load: () => import('./commands/generate.ts'),
  },
  run: {
    summary: 'run a pipeline: a definition file or a built-in one (orders)',
    load: () => import('./commands/run.ts'),
  },
  pipeline: {
    summary: 'validate | explain a pipeline definition',
    load: () => import('./commands/pipeline.ts'),
  },
  models: {
    summary: 'run | test | export | graph the SQL models of a project',
    load: () => import('./commands/models.ts'),
  },
  demo: {
    summary: 'run a scenario end to end on the embedded defaults',
    load: () => import('./commands/demo.ts'),
  },
  jobs: {
    summary: 'list | run | history | serve scheduled jobs (docs/jobs.md)',
    load: () => import('./commands/jobs.ts'),
  },
  registry: {
    summary: 'serve the schema registry (Confluent-compatible, Avro; docs/registry.md)',
    load: () => import('./commands/registry.ts'),
  },
  serve: {
    summary: 'serve the tables over HTTP: REST API, OpenAPI at /docs, JWT auth (docs/serving.md)',
    load: () => import('./commands/serve.ts'),
  },
  token: {
    summary: 'create a bearer token for serve (docs/serving.md)',
    load: () => import('./commands/token.ts'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: tributary <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'tributary <command> --help' for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a usage mistake: exit code 2, as docs/cli.md says.
    console.error(usage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(`tributary: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  let mod: CommandModule;
  try {
    mod = await command.load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      console.error(`tributary: '${name}' is not available in this build yet`);
      return 2;
    }
    throw err;
  }
  return mod.run(rest);
}

// A reader that stops early (`tributary consume t | head`) closes the pipe: stop quietly,
// as other command-line tools do, instead of dying on an unhandled EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (isTributaryError(err)) {
    console.error(`tributary: error [${err.code}]: ${err.message}`);
    process.exitCode = err.domain === 'user' ? 2 : 1;
  } else {
    console.error('tributary: unexpected error (a bug in Tributary; please report it):');
    console.error(err);
    process.exitCode = 70;
  }
}
