/**
 * `tributary table <subcommand>`: create, write, show, history, optimize, vacuum and
 * checkpoint a Delta table (docs/cli.md). A table is a name under
 * `<data-dir>/tables/<name>`, or a path / URL when the argument holds a `/` or `s3://`.
 */
import { parseArgs } from 'node:util';
import { TributaryError } from '../../core/errors.ts';
import { formatResult, jsonText, OUTPUT_FORMATS, type OutputFormat } from '../../query/format.ts';
import { DeltaTable, type OptimizeProgress, optimize } from '../../table/index.ts';
import { locateTable } from '../../table/locate.ts';
import { Progress } from '../progress.ts';
import { PLAIN_OPTION } from '../terminal.ts';
import { csvList, DEFAULT_DATA_DIR, parseOrUsage, parseSize } from './options.ts';
import { assertEmptyLocation } from './table/empty-location.ts';
import { readSchemaArg } from './table/schema-arg.ts';
import { historyResult, humanBytes, renderSummary, summarize } from './table/show.ts';
import { type FileFormat, type WriteMode, writeFile } from './table/write-file.ts';

const USAGE = `usage: tributary table <subcommand> <name|path> [options]

subcommands:
  create <table> --schema <json|file> [--partition-by a,b] [--property k=v ...]
  write <table> <file> [--format ndjson|csv|parquet] [--mode append|overwrite|merge]
                       [--key k1,k2] [--partition-by a,b] [--merge-schema]
  show <table> [--format text|json]
  history <table> [--limit N] [--format table|json|ndjson|csv]
  optimize <table> [--target-size 128MB] [--plain]
  vacuum <table> [--retention-hours H] [--dry-run] [--plain]
  checkpoint <table>

optimize and vacuum show their progress on stderr: a line rewritten in place on a
terminal, else a line every 2 seconds (--plain or TRIBUTARY_PLAIN=1: plain lines).

<table> is a name under <data-dir>/tables/, or a path or URL (anything with '/' or s3://).

common options:
  --data-dir DIR  where named tables live (default: $TRIBUTARY_DATA_DIR or ${DEFAULT_DATA_DIR})
  -h, --help      show this help`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  schema: { type: 'string' },
  'partition-by': { type: 'string' },
  property: { type: 'string', multiple: true },
  format: { type: 'string' },
  mode: { type: 'string' },
  key: { type: 'string' },
  limit: { type: 'string' },
  'target-size': { type: 'string' },
  'retention-hours': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'merge-schema': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...PLAIN_OPTION,
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Which options each subcommand takes, and how many positionals after the subcommand. */
const SUBCOMMANDS: Record<string, { options: string[]; positionals: number }> = {
  create: { options: ['schema', 'partition-by', 'property'], positionals: 1 },
  write: { options: ['format', 'mode', 'key', 'partition-by', 'merge-schema'], positionals: 2 },
  show: { options: ['format'], positionals: 1 },
  history: { options: ['limit', 'format'], positionals: 1 },
  optimize: { options: ['target-size', 'plain'], positionals: 1 },
  vacuum: { options: ['retention-hours', 'dry-run', 'plain'], positionals: 1 },
  checkpoint: { options: [], positionals: 1 },
};

function usageError(message: string): number {
  console.error(`tributary table: ${message}\n\n${USAGE}`);
  return 2;
}

function positiveNumber(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    throw new TributaryError('CONFIG_INVALID', `--${option} must be a number ≥ 0, not '${text}'`, { option });
  }
  return n;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseOrUsage(USAGE, () => parseArgs({ args, allowPositionals: true, options: OPTIONS }));
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined) {
    console.log(USAGE);
    return sub === undefined && !values.help ? 2 : 0;
  }
  const spec = SUBCOMMANDS[sub];
  if (spec === undefined) return usageError(`unknown subcommand '${sub}'`);
  if (rest.length !== spec.positionals) {
    return usageError(`'table ${sub}' takes ${spec.positionals === 1 ? 'a table' : 'a table and a file'}`);
  }
  for (const name of Object.keys(values)) {
    if (name !== 'data-dir' && name !== 'help' && !spec.options.includes(name)) {
      return usageError(`'table ${sub}' does not take --${name}`);
    }
  }
  const dataDir = values['data-dir'] ?? (process.env.TRIBUTARY_DATA_DIR || DEFAULT_DATA_DIR);
  const location = await locateTable(rest[0], dataDir, {
    mustExist: sub === 'create' || sub === 'write' ? false : undefined,
  });
  switch (sub) {
    case 'create':
      return create(location.store, location.display, values);
    case 'write':
      return write(location.store, location.display, rest[1], values);
  }
  const table = await DeltaTable.open(location.store);
  switch (sub) {
    case 'show': {
      const summary = summarize(location.display, location.store.url, await table.snapshot());
      const format = values.format ?? 'text';
      if (format !== 'text' && format !== 'json')
        return usageError(`unknown --format '${format}'; use text or json`);
      console.log(format === 'json' ? jsonText(summary) : renderSummary(summary));
      return 0;
    }
    case 'history': {
      const format = (values.format ?? 'table') as OutputFormat;
      if (!OUTPUT_FORMATS.includes(format)) return usageError(`unknown --format '${values.format}'`);
      const limit = values.limit === undefined ? undefined : positiveNumber(values.limit, 'limit');
      console.log(formatResult(await historyResult(table, limit), format));
      return 0;
    }
    case 'optimize': {
      let targetFileSize: number | undefined;
      if (values['target-size'] !== undefined) {
        targetFileSize = parseSize(values['target-size']);
        if (targetFileSize === undefined || targetFileSize <= 0) {
          throw new TributaryError(
            'CONFIG_INVALID',
            `--target-size '${values['target-size']}' is not a size like 128MB`,
            {},
          );
        }
      }
      const progress = new Progress({ plain: values.plain });
      const line = (p: OptimizeProgress) =>
        `optimize: ${p.filesDone}/${p.filesTotal} files rewritten (${humanBytes(p.bytesDone)} of ${humanBytes(p.bytesTotal)}), ${p.filesAdded} written`;
      let last: OptimizeProgress | undefined;
      let res: Awaited<ReturnType<typeof optimize>>;
      try {
        res = await optimize(table, {
          targetFileSize,
          onProgress: (p) => {
            last = p;
            progress.update(line(p));
          },
        });
      } catch (err) {
        progress.clear();
        throw err;
      }
      if (last !== undefined && res.version !== undefined) progress.done(line(last));
      console.log(
        res.version === undefined
          ? 'nothing to compact'
          : `compacted ${res.filesRemoved} files into ${res.filesAdded} at version ${res.version}`,
      );
      return 0;
    }
    case 'vacuum': {
      const hours = values['retention-hours'];
      const retentionMs =
        hours === undefined ? undefined : positiveNumber(hours, 'retention-hours') * 3_600_000;
      const dryRun = values['dry-run'] === true;
      const progress = new Progress({ plain: values.plain });
      let total = -1;
      let done = 0;
      const line = () => `vacuum: ${done}/${total} files deleted`;
      let deleted: string[];
      try {
        ({ deleted } = await table.vacuum({
          retentionMs,
          dryRun,
          onProgress: (p) => {
            total = p.total;
            done = p.deleted;
            progress.update(line());
          },
        }));
      } catch (err) {
        progress.clear();
        throw err;
      }
      if (total > 0) progress.done(line());
      for (const path of deleted) console.log(path);
      console.log(
        `${dryRun ? 'would delete' : 'deleted'} ${deleted.length} file${deleted.length === 1 ? '' : 's'}`,
      );
      return 0;
    }
    case 'checkpoint': {
      const snap = await table.snapshot();
      await table.checkpoint(snap);
      console.log(`checkpoint written at version ${snap.version}`);
      return 0;
    }
  }
  return usageError(`unknown subcommand '${sub}'`);
}

async function create(store: DeltaTable['store'], display: string, values: Values): Promise<number> {
  if (values.schema === undefined) return usageError("'table create' needs --schema <json|file>");
  const schema = await readSchemaArg(values.schema);
  const configuration: Record<string, string> = {};
  for (const p of values.property ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) return usageError(`--property '${p}' is not key=value`);
    configuration[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const partitionColumns = csvList(values['partition-by']);
  // An existing table is TABLE_ALREADY_EXISTS (from create); any other files are refused.
  if (!(await DeltaTable.exists(store))) await assertEmptyLocation(store, display);
  await DeltaTable.create(store, { schema, partitionColumns, configuration });
  console.log(`created table ${display} at ${store.url}`);
  return 0;
}

async function write(
  store: DeltaTable['store'],
  display: string,
  file: string,
  values: Values,
): Promise<number> {
  const mode = (values.mode ?? 'append') as WriteMode;
  if (!['append', 'overwrite', 'merge'].includes(mode)) {
    return usageError(`unknown --mode '${values.mode}'; use append, overwrite or merge`);
  }
  const res = await writeFile(store, display, file, {
    format: values.format as FileFormat | undefined,
    mode,
    keys: csvList(values.key),
    partitionBy: csvList(values['partition-by']),
    mergeSchema: values['merge-schema'] === true,
  });
  const stat = `${res.rows} row${res.rows === 1 ? '' : 's'}`;
  const created = res.created ? `created table ${display}; ` : '';
  console.log(
    res.committed || res.created
      ? `${created}wrote ${stat} (${mode}) at version ${res.version}`
      : `nothing to commit: ${res.rows === 0 ? 'the file has no rows' : 'every row is already in the table as it is'}; table ${display} stays at version ${res.version}`,
  );
  return 0;
}
