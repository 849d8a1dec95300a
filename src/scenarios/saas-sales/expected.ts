/**
 * Everything the sales pipeline must produce from a raw topic, from the oracle's steps
 * (oracle.ts, revenue-windows.ts): the DLQ's records, silver's events, the late ones,
 * gold's windows. Late events are batch-dependent (oracle.ts, step 3), so the caller
 * gives either the batches the pipeline ran (exact), or the late set the pipeline
 * reported (then checked against what any batching allows), or neither (one batch:
 * nothing late).
 */
import type { SchemaRegistryClient } from '../../connectors/avro/registry-client.ts';
import { isTributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import type { BatchEnd, InvalidRecord, OracleEvent, RawRecord } from './oracle.ts';
import { classify, dedup, lateBound, lateByBatches } from './oracle.ts';
import { closedWindows, type RevenueWindow, revenueWindows } from './revenue-windows.ts';

export interface ExpectedSales {
  /** Every invalid record once, with why (the DLQ). */
  invalid: InvalidRecord[];
  /** Valid records after dedup, by (partition, offset) (silver). */
  events: OracleEvent[];
  /** Later copies of an event_id, dropped by the dedup. */
  duplicates: Array<{ event: OracleEvent; first: { partition: number; offset: number } }>;
  late: OracleEvent[];
  onTime: OracleEvent[];
  /** Claimed late events no batching makes late (only with `late` given; must be empty). */
  impossibleLate: OracleEvent[];
  /** The watermark after the last batch (null before any on-time event). */
  watermark: number | null;
  /** Gold: the windows of every on-time event, and those an `emit: final` pipeline has closed. */
  windows: RevenueWindow[];
  closed: RevenueWindow[];
}

export interface ExpectedSalesOptions {
  /** The windows' allowed lateness (the definition's watermark), ms. */
  delayMs: number;
  /** The batches the pipeline ran, in order (exact late set). */
  batches?: readonly BatchEnd[];
  /** Or the late events the pipeline reported, as "partition/offset". */
  late?: ReadonlySet<string>;
}

export function expectedSales(
  records: readonly RawRecord[],
  schemas: ReadonlyMap<number, string>,
  opts: ExpectedSalesOptions,
): ExpectedSales {
  const { invalid, valid } = classify(records, schemas);
  const { events, duplicates } = dedup(valid);
  let late: OracleEvent[];
  let onTime: OracleEvent[];
  let impossibleLate: OracleEvent[] = [];
  let watermark: number | null;
  if (opts.late !== undefined) {
    const claimed = opts.late;
    const isLate = (e: OracleEvent) => claimed.has(`${e.partition}/${e.offset}`);
    late = events.filter(isLate);
    onTime = events.filter((e) => !isLate(e));
    impossibleLate = lateBound(events, claimed, opts.delayMs).impossible;
    watermark =
      onTime.length === 0
        ? null
        : onTime.reduce((m, e) => Math.max(m, e.eventTime), -Infinity) - opts.delayMs;
  } else {
    const ends: Record<number, number> = {};
    for (const r of records) ends[r.partition] = Math.max(ends[r.partition] ?? 0, r.offset + 1);
    const cut = lateByBatches(events, opts.batches ?? [ends], opts.delayMs);
    late = cut.late;
    onTime = cut.onTime;
    watermark = cut.watermarks.at(-1) ?? null;
  }
  const windows = revenueWindows(onTime);
  return {
    invalid,
    events,
    duplicates,
    late,
    onTime,
    impossibleLate,
    watermark,
    windows,
    closed: closedWindows(windows, watermark),
  };
}

/**
 * The oracle's input from a topic: every record (by partition, then offset) and the
 * schema text of each schema id the records name that `registry` knows (the ids it does
 * not know are the oracle's `unknown-schema-id`).
 */
export async function readSalesTopic(
  log: Log,
  topic: string,
  registry: SchemaRegistryClient,
): Promise<{ records: RawRecord[]; schemas: Map<number, string> }> {
  const info = await log.describeTopic(topic);
  const records: RawRecord[] = [];
  const ids = new Set<number>();
  for (let partition = 0; partition < info.partitions; partition++) {
    const { latest } = await log.offsets(topic, partition);
    let offset = (await log.offsets(topic, partition)).earliest;
    while (offset < latest) {
      const f = await log.fetch(topic, partition, offset);
      if (f.records.length === 0) break;
      for (const r of f.records) {
        records.push({ partition, offset: r.offset, value: r.value });
        const v = r.value;
        if (v && v.length >= 5 && v[0] === 0)
          ids.add(((v[1] << 24) | (v[2] << 16) | (v[3] << 8) | v[4]) >>> 0);
      }
      offset = f.nextOffset;
    }
  }
  const schemas = new Map<number, string>();
  for (const id of [...ids].sort((a, b) => a - b)) {
    try {
      schemas.set(id, await registry.schemaById(id));
    } catch (err) {
      if (!isTributaryError(err, 'SCHEMA_NOT_FOUND')) throw err;
    }
  }
  return { records, schemas };
}
