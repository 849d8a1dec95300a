/**
 * A Delta table read as a stream: one partition whose offsets are the table's versions.
 * A batch is the rows added by a run of consecutive versions (whole versions, at least
 * one); every row of version v has offset v, and its commit time as timestamp. A sink
 * downstream records the last version it consumed with its commits, as it records a
 * topic's offsets, so bronze → silver → gold pipelines chain exactly once and resume
 * where they stopped.
 */
import { readChanges } from '../../table/index.ts';
import type { DeltaTable } from '../../table/table.ts';
import type { FetchLimits, Source, SourceBatch } from '../types.ts';

export class TableSource implements Source {
  readonly name: string;
  readonly table: DeltaTable;

  constructor(table: DeltaTable, name: string) {
    this.table = table;
    this.name = name;
  }

  async partitions(): Promise<number> {
    return 1;
  }

  async fetch(_partition: number, offset: number, limits: FetchLimits): Promise<SourceBatch> {
    const versions = await readChanges(this.table, this.name, offset, {
      maxRows: limits.maxRecords,
      ...(limits.lastOffset !== undefined && { maxVersions: Math.max(0, limits.lastOffset - offset + 1) }),
    });
    const latest = (await this.table.snapshot()).version;
    const last = versions.at(-1)?.version ?? offset - 1;
    let rows = 0;
    for (const v of versions) rows += v.rows ?? v.files.length;
    return {
      partition: 0,
      // Versions that add no rows still move the position: counted as one record each,
      // so the batch is not taken for an empty one.
      count: versions.length === 0 ? 0 : Math.max(rows, versions.length),
      lastOffset: last,
      nextOffset: last + 1,
      highWatermark: Math.max(latest + 1, last + 1),
      rows: { versions },
    };
  }

  async latest(): Promise<number> {
    return (await this.table.snapshot()).version + 1;
  }
}
