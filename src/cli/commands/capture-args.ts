/**
 * The change capture of a definition with `source.capture`, from the command line: which
 * database (`--source URL`, the definition's `postgres`, $TRIBUTARY_CDC_SOURCE, else the
 * data directory's embedded PostgreSQL) and which mode (`--capture polling|logical`, else
 * the definition's). The capture is checked before anything runs (the table, its cursor
 * and key), so a wrong table or URL stops the command at once. URLs are shown without
 * their password.
 */

import type { ChangeColumn } from '../../connectors/postgres/capture/change.ts';
import { createCapture } from '../../connectors/postgres/capture/start.ts';
import type { CaptureMode, ChangeCapture } from '../../connectors/postgres/capture/types.ts';
import { redactUrl } from '../../connectors/postgres/client.ts';
import { displayName, type PgTableName } from '../../connectors/postgres/tables.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import { captureOf, capturesAllColumns, resolveCapture } from '../../pipeline/capture.ts';
import { CaptureSchema, describeCapturedTable } from '../../pipeline/capture-schema.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import type { LoadedDefinition } from '../../pipeline/load.ts';
import { PipelineSlot } from '../../pipeline/with-capture.ts';
import type { Pipeline } from '../../stream/pipeline.ts';
import { type OpenedPostgres, openEmbeddedPostgres } from './postgres-args.ts';

export const CAPTURE_OPTIONS = {
  source: { type: 'string' },
  capture: { type: 'string' },
} as const;

export const CAPTURE_OPTIONS_USAGE = `change data capture (definitions with source.capture; docs/cdc.md):
  --source URL           capture from this PostgreSQL: postgres://user:password@host:port/database
                         (default: the definition's source.capture.postgres, else $TRIBUTARY_CDC_SOURCE,
                         else the embedded PostgreSQL of the data directory)
  --capture MODE         polling or logical (default: the definition's source.capture.mode, else polling)`;

export interface OpenedCapture {
  capture: ChangeCapture;
  mode: CaptureMode;
  /** What is captured from where, for messages (no password). */
  describe: string;
  /** The source database's URL (may hold a password: never print it). */
  url: string;
  /** The captured table. */
  table: PgTableName;
  /** Hands the capture's column announcements (CaptureOptions.onColumns) to `hook`. */
  follow(hook: (columns: readonly ChangeColumn[]) => Promise<void>): void;
  close(): Promise<void>;
}

function modeOption(text: string | undefined): CaptureMode | undefined {
  if (text === undefined) return undefined;
  if (text === 'polling' || text === 'logical') return text;
  throw new TributaryError('CONFIG_INVALID', `--capture must be polling or logical, got '${text}'`, {
    option: 'capture',
  });
}

/**
 * Opens and checks the capture of `def`; undefined when it has none. `sinkPg`: the
 * database the pipeline's postgres sinks opened (its embedded server is reused).
 */
export async function openCaptureFromArgs(
  def: PipelineDefinition,
  values: { source?: string; capture?: string; 'postgres-port'?: string },
  ctx: {
    dataDir: string;
    log: Log;
    topic: string;
    sinkPg?: OpenedPostgres;
    say?: (line: string) => void;
  },
): Promise<OpenedCapture | undefined> {
  const say = ctx.say ?? ((l: string) => console.error(l));
  const mode = modeOption(values.capture);
  if (!captureOf(def)) {
    if (values.source !== undefined || mode !== undefined) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `--source and --capture apply to a definition with source.capture (a PostgreSQL table captured into its topic); pipeline '${def.name}' has none (docs/cdc.md)`,
      );
    }
    return undefined;
  }
  const resolved = resolveCapture(def, {
    dataDir: ctx.dataDir,
    topic: ctx.topic,
    source: values.source,
    mode,
  });
  let url = resolved.url;
  let embedded: OpenedPostgres | undefined;
  if (url === undefined) {
    if (resolved.mode === 'logical') {
      throw new TributaryError(
        'CONFIG_INVALID',
        'logical replication needs a PostgreSQL server (the embedded PGlite cannot decode its write-ahead log): give the server with --source postgres://..., or capture by polling (--capture polling)',
      );
    }
    if (ctx.sinkPg?.embedded) url = ctx.sinkPg.embedded.url;
    else {
      embedded = await openEmbeddedPostgres(values, ctx.dataDir, say);
      url = embedded.embedded!.url;
    }
  }
  const shown = redactUrl(url);
  const table = displayName(resolved.table);
  let capture: ChangeCapture | undefined;
  let hook: ((columns: readonly ChangeColumn[]) => Promise<void>) | undefined;
  try {
    capture = await createCapture(resolved.mode, {
      ...resolved.options,
      url,
      log: ctx.log,
      // Polling names itself in its lines; the logical capture's get the same prefix here.
      report: resolved.mode === 'logical' ? (l: string) => say(`capture: ${l}`) : say,
      onColumns: async (columns) => {
        await hook?.(columns);
      },
    });
    const prepare = (capture as { prepare?: () => Promise<void> }).prepare;
    if (prepare) {
      try {
        await prepare.call(capture);
      } catch (err) {
        if (isTributaryError(err, 'CAPTURE_TABLE_INVALID') && resolved.url === undefined) {
          throw new TributaryError(
            'CAPTURE_TABLE_INVALID',
            `${err.message}. (This is the data directory's embedded PostgreSQL, as no --source was given: give the database to capture with --source URL, or create the table there — tributary demo cdc creates the food-orders table.)`,
            err.details,
            err,
          );
        }
        if (!isTributaryError(err, 'POSTGRES_UNAVAILABLE')) throw err;
        throw new TributaryError(
          'POSTGRES_UNAVAILABLE',
          `${err.message}. Nothing was started: check that the server runs and accepts connections at the host and port of ${shown} (from ${resolved.from}). ` +
            '(A capture that has started waits for its database when it goes away; at start it does not.)',
          err.details,
          err,
        );
      }
    }
  } catch (err) {
    await capture?.close().catch(() => {});
    await embedded?.close().catch(() => {});
    throw err;
  }
  const o = resolved.options;
  const settings =
    resolved.mode === 'polling'
      ? `by ${o.cursor ?? 'created_at'} every ${(o.pollIntervalMs ?? 5000) / 1000} s, at most ${o.batchLimit ?? 1000} rows a poll`
      : 'replication';
  const describe = `${resolved.mode} ${table} (${settings}) from ${shown} into topic ${ctx.topic}, state in ${o.stateDir}`;
  say(`tributary: capturing ${describe}`);
  const opened = capture;
  return {
    capture: opened,
    mode: resolved.mode,
    describe,
    url,
    table: resolved.table,
    follow: (h) => {
      hook = h;
    },
    close: async () => {
      await opened.close();
      await embedded?.close();
    },
  };
}

/**
 * The pipeline of a definition, beside its capture (if any): a capture reading every
 * column of its table (`columns: all`) completes the contract from the table and follows
 * its columns while running (capture-schema.ts). `compile` compiles a definition in the
 * run's context.
 */
export async function compileBesideCapture(
  loaded: LoadedDefinition,
  capture: OpenedCapture | undefined,
  compile: (loaded: LoadedDefinition) => Promise<Pipeline>,
  say: (line: string) => void = (l) => console.error(l),
): Promise<PipelineSlot> {
  if (!capture || !capturesAllColumns(loaded.definition)) return new PipelineSlot(await compile(loaded));
  const schema = new CaptureSchema({
    loaded,
    table: capture.table,
    describe: () => describeCapturedTable(capture.url, capture.table),
    compile,
    report: say,
  });
  const slot = await schema.start();
  capture.follow(schema.onColumns);
  return slot;
}
