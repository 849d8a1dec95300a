/**
 * The versions of a pipeline's tables as they are on storage, polled for a status
 * display (table/latest-version.ts: no commit is read), so maintenance commits
 * (OPTIMIZE) count as well as the sinks' own.
 */
import { isTributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { latestVersion, locateTable } from '../table/index.ts';

export class TableVersions {
  private readonly dataDir: string;
  private readonly stores = new Map<string, ObjectStore>();
  private readonly versions = new Map<string, number>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** The version last read (undefined while the table does not exist yet). */
  get(table: string): number | undefined {
    return this.versions.get(table);
  }

  /**
   * Reads the newest version of each table (a table not created yet is skipped). A table
   * is found by its name under the data directory unless `known` gives its store (a
   * pipeline's table with a `path` of its own).
   */
  async refresh(
    tables: Iterable<string>,
    known?: ReadonlyMap<string, { store: ObjectStore }>,
  ): Promise<void> {
    for (const table of new Set(tables)) {
      try {
        let store = known?.get(table)?.store ?? this.stores.get(table);
        if (store === undefined) {
          store = (await locateTable(table, this.dataDir)).store;
          this.stores.set(table, store);
        }
        const v = await latestVersion(store, this.versions.get(table) ?? -1);
        if (v >= 0) this.versions.set(table, v);
      } catch (err) {
        // Not created yet (its first commit makes it): shown as '-' until then.
        if (!isTributaryError(err, 'TABLE_NOT_FOUND')) throw err;
      }
    }
  }
}
