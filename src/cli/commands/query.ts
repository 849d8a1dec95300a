/**
 * `tributary query "<SQL>"`: DuckDB SQL over the tables of a data directory, with time
 * travel (docs/sql.md). Prints an aligned table, JSON, NDJSON or CSV.
 */

import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { formatChunks, OUTPUT_FORMATS, type OutputFormat } from '../../query/format.ts';
import { streamQuery } from '../../query/run.ts';
import { DEFAULT_DATA_DIR, parseOrUsage } from './options.ts';

const USAGE = `usage: tributary query "<SQL>" [--format table|json|ndjson|csv] [--data-dir DIR]
       tributary query - < query.sql     (the SQL from standard input)

Runs DuckDB SQL over Delta tables. A bare name is the table <data-dir>/tables/<name>;
a quoted path or URL ('path/to/table', delta_scan('s3://bucket/t')) is a table there.
Time travel: FROM t VERSION AS OF 3, FROM t TIMESTAMP AS OF '2026-01-01 00:00:00' (UTC).

options:
  --format F      output format: table (default), json, ndjson, csv
  --data-dir DIR  where named tables live (default: $TRIBUTARY_DATA_DIR or ${DEFAULT_DATA_DIR})
  -h, --help      show this help`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseOrUsage(USAGE, () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'table' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`tributary query: expected one SQL text (quote it), got ${positionals.length}\n\n${USAGE}`);
    return 2;
  }
  const format = values.format as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) {
    console.error(`tributary query: unknown --format '${values.format}'; use ${OUTPUT_FORMATS.join(', ')}`);
    return 2;
  }
  const dataDir = values['data-dir'] ?? (process.env.TRIBUTARY_DATA_DIR || DEFAULT_DATA_DIR);
  const sql = positionals[0] === '-' ? await readStdin() : positionals[0];
  // Rows are printed as DuckDB produces them, chunk by chunk (the text table collects
  // them first, to size its columns).
  const streamed = await streamQuery(sql, { dataDir });
  try {
    await writeLines(formatChunks(streamed.columns, streamed.chunks, format));
  } finally {
    streamed.close();
  }
  return 0;
}

/** Writes lines to stdout in pieces of about 1 MiB, waiting whenever the pipe is full. */
async function writeLines(lines: AsyncIterable<string>): Promise<void> {
  let chunk: string[] = [];
  let size = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const text = `${chunk.join('\n')}\n`;
    chunk = [];
    size = 0;
    if (!process.stdout.write(text)) await once(process.stdout, 'drain');
  };
  for await (const line of lines) {
    chunk.push(line);
    size += line.length + 1;
    if (size >= 1 << 20) await flush();
  }
  await flush();
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
