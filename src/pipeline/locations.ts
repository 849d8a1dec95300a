/**
 * Where a pipeline's tables and state live: under the data directory by default
 * (`<data-dir>/tables/<table>`, `<data-dir>/state/<pipeline>`), or in a lake — any
 * storage location, e.g. `s3://bucket/prefix` (`tributary run --lake`, $TRIBUTARY_LAKE):
 * `<lake>/<table>` and `<lake>/_state/<pipeline>`. A table's own `path` may be a
 * location too (absolute directory or URL), used as it is.
 */
import { basename, isAbsolute, join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import { isTributaryError } from '../core/errors.ts';
import { LocalStore } from '../storage/local.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { openStore } from '../storage/open.ts';
import type { DeltaTable } from '../table/index.ts';
import { type OutcomeCheckOptions, DeltaTable as Table } from '../table/table.ts';
import type { PipelineDefinition } from './definition.ts';
import type { Problem } from './shape.ts';

export interface Locations {
  /** The local data directory (the embedded log, PostgreSQL, captures; tables and state by default). */
  dataDir: string;
  /** Where tables and state live instead of the data directory: a directory or a URL (`s3://bucket/prefix`). */
  lake?: string;
}

/** A URL such as `s3://bucket/prefix`, `file:///dir` or `memory://name` (not a path). */
export const isUrl = (location: string): boolean => /^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//.test(location);

export function tablesDir(dataDir: string): string {
  return join(dataDir, 'tables');
}

/** `rel` (a `/`-separated relative path) below a directory or a URL. */
export function childLocation(root: string, rel: string): string {
  return isUrl(root) ? `${root.replace(/\/+$/, '')}/${rel}` : join(root, rel);
}

/** The folder tables without a location of their own live in. */
export function tablesRoot(l: Locations): string {
  return l.lake ?? tablesDir(l.dataDir);
}

/** A table's location from its definition's `path` (or name): a URL or absolute path as is, else below the tables' root. */
export function tableLocation(l: Locations, path: string): string {
  return isUrl(path) || isAbsolute(path) ? path : childLocation(tablesRoot(l), path);
}

/** Where a pipeline's window and dedup state is saved: beside its tables. */
export function stateLocation(l: Locations, pipeline: string): string {
  return l.lake === undefined
    ? join(l.dataDir, 'state', pipeline)
    : childLocation(l.lake, `_state/${pipeline}`);
}

/**
 * The store of a location: a directory is a LocalStore (synced when `durable`); a URL is
 * opened by openStore (S3 settings from the standard AWS environment, docs/storage.md).
 */
export function openLocation(location: string, opts: { durable?: boolean } = {}): ObjectStore {
  return isUrl(location)
    ? openStore(location, { durable: opts.durable ?? true })
    : new LocalStore(location, { durable: opts.durable ?? true });
}

/** A table source's table: it must exist (its pipeline writes it first). */
export async function openSourceTable(
  def: PipelineDefinition,
  l: Locations,
  ctx: { clock?: Clock; outcomeCheck?: OutcomeCheckOptions } = {},
): Promise<{ table: DeltaTable; name: string; location: string } | Problem> {
  if (!('table' in def.source)) throw new Error('not a table source');
  const location = tableLocation(l, def.source.table);
  try {
    const table = await Table.open(openLocation(location), {
      ...(ctx.clock && { clock: ctx.clock }),
      ...(ctx.outcomeCheck && { outcomeCheck: ctx.outcomeCheck }),
    });
    await table.snapshot();
    return { table, name: basename(location.replace(/\/+$/, '')), location };
  } catch (err) {
    if (!isTributaryError(err, 'TABLE_NOT_FOUND')) throw err;
    return {
      path: ['source', 'table'],
      message: `no Delta table at ${location} (yet): run the pipeline that writes it first, or give --data-dir or --lake`,
    };
  }
}
