/**
 * A new table needs a location of its own. Creating one in a folder that already holds
 * files (other tables nested below it, say `tables/gold/daily` under a new table `gold`)
 * would make those files the new table's to VACUUM — it deletes every file its log does
 * not reference — so, as Spark does (DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION), the
 * command refuses.
 */
import { TributaryError } from '../../../core/errors.ts';
import type { ObjectStore } from '../../../storage/object-store.ts';

export async function assertEmptyLocation(store: ObjectStore, display: string): Promise<void> {
  const found = await store.list('');
  // A log: a table appeared meanwhile (a concurrent create); create reports that itself.
  if (found.length === 0 || found.some((o) => o.path.startsWith('_delta_log/'))) return;
  const shown = found
    .slice(0, 3)
    .map((o) => o.path)
    .join(', ');
  throw new TributaryError(
    'TABLE_INVALID_ARGUMENT',
    `cannot create table ${display} at ${store.url}: the location already holds ${found.length} file(s) (${shown}${found.length > 3 ? ', ...' : ''}) and no Delta table; choose another name or location, or move those files away`,
    { table: display, location: store.url, files: found.length },
  );
}
