/**
 * What both capture modes share: their options and the loop they run. A capture reads a
 * PostgreSQL table's changes and publishes them to a topic of the log (change.ts says
 * how they are encoded); it saves how far it got only once what it published is durable,
 * so a crash repeats changes (removed downstream by position) and never loses one.
 */
import type { Log } from '../../../log/log.ts';
import type { PgTableName } from '../tables.ts';
import type { CaptureFormat, ChangeColumn } from './change.ts';

export type CaptureMode = 'polling' | 'logical';

export interface CaptureOptions {
  /** Names the capture's state (DATA_DIR/capture/<name>/), slot and publication defaults. */
  name: string;
  /** The source database (a URL: logical replication opens a replication connection of its own). */
  url: string;
  table: PgTableName;
  /** Key columns (default: the table's primary key). */
  key?: readonly string[];
  log: Log;
  topic: string;
  /** Partitions to create the topic with when it does not exist. */
  partitions: number;
  format: CaptureFormat;
  /** Where the capture keeps its state (created if absent). */
  stateDir: string;
  /** A progress or warning line for the operator (without a trailing newline). */
  report?: (line: string) => void;
  /**
   * Called with the table's columns before the first change is published, and again
   * before any change whose columns differ from the last ones called with (a column
   * added, dropped, or of another type: what the pipeline beside the capture reads must
   * follow, docs/cdc.md "Schema changes"). The publish waits for it and fails with what
   * it throws. Both modes call it through their ChangePublisher (publish.ts).
   */
  onColumns?: (columns: readonly ChangeColumn[]) => Promise<void>;
}

export interface CaptureMetrics {
  /** Change events published (a replayed change counts again). */
  published: number;
  /** Polls (polling) or transactions received (logical replication). */
  batches: number;
  /** The last position saved as durable. */
  position?: string;
}

export interface ChangeCapture {
  readonly mode: CaptureMode;
  readonly metrics: CaptureMetrics;
  /**
   * Captures until `signal` aborts (then finishes the publish in flight, saves its state
   * and resolves), or, with `untilCaughtUp`, until every change present at the start has
   * been published. Rejects with a TributaryError on a failure it cannot wait out.
   */
  run(options: { signal?: AbortSignal; untilCaughtUp?: boolean }): Promise<void>;
  close(): Promise<void>;
}
