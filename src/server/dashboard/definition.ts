/**
 * What a dashboard page is: a list of panels, each one a fixed query and a way to draw
 * its answer. A scenario adds its page by adding a definition (orders.ts, saas.ts,
 * clickstream.ts, cdc.ts; the panels every page shares are in pipeline-panels.ts) to
 * DASHBOARDS (index.ts); the server computes every panel (compute.ts) and the browser
 * draws them (src/ui/panels.js), so a page needs no code of its own.
 *
 * Every panel answers the same shape, whatever its source: `columns` and `rows`, as the
 * SQL endpoint does. How it is drawn:
 *  - `stat`: the first row's values, one big number per column;
 *  - `bars`: one bar per row, the first column its label, the second its value;
 *  - `timeseries`: the first column is the time (epoch seconds), each other column a
 *    line; with `seriesBy`, the rows are long (time, series name, value) and each
 *    distinct name becomes a line;
 *  - `table`: the rows as they are.
 */

/** How a value is written: a count, money (exact decimal text), milliseconds, a rate. */
export type PanelUnit = 'count' | 'money' | 'ms' | 'per_second' | 'percent';

export type PanelKind = 'stat' | 'bars' | 'timeseries' | 'table';

/** Fixed SQL over the lake's tables (by name), run through the query layer at pinned versions. */
export interface SqlSource {
  type: 'sql';
  sql: string;
  /**
   * Time windows the query keeps to: it reads only rows of `table` whose `column` is at
   * or after `{{newest table.column}} - minutes` (its SQL must say so too). The table's
   * other rows are left out before the query runs, and files whose statistics show
   * only older rows are not read: the answer is the same, from the recent files only.
   */
  windows?: Array<{ table: string; column: string; minutes: number }>;
}

/** The dead-letter topic of the scenario's pipeline, read from the log. */
export interface DlqSource {
  type: 'dlq';
  /** `total` (records held), `by_reason` (rule and field), `recent` (the newest records). */
  view: 'total' | 'by_reason' | 'recent';
}

/** The metrics of the scenario's pipeline when it runs in this server's process. */
export interface LiveSource {
  type: 'live';
  /**
   * `now` (one row: events/s, lag, latency p50/p99, DLQ written), `rate` (events/s over
   * time), `latency` (p50 and p99 over time), `lag` (per partition).
   */
  view: 'now' | 'rate' | 'latency' | 'lag';
}

export type PanelSource = SqlSource | DlqSource | LiveSource;

export interface PanelDef {
  /** Unique in its dashboard: letters, digits, `_`. */
  id: string;
  title: string;
  /** One line under the title: what is counted, and from where. */
  description: string;
  kind: PanelKind;
  unit: PanelUnit;
  /** Columns written in another unit than the panel's (a share beside counts). */
  columnUnits?: Record<string, PanelUnit>;
  source: PanelSource;
  /** timeseries only: the rows are (time, series, value); each distinct series a line. */
  seriesBy?: string;
  /** Grid width in twelfths of the page (default 6). */
  width?: number;
}

export interface DashboardDef {
  /** The URL name: `/api/v1/dashboards/<name>`, `#/dash/<name>` in the page. */
  name: string;
  title: string;
  description: string;
  /** The pipeline whose live metrics and DLQ the page shows. */
  pipeline: string;
  /** Its dead-letter topic, for the `dlq` panels (none: a pipeline that tags failures instead). */
  dlqTopic?: string;
  /** The tables the SQL panels read (their versions pin every answer). */
  tables: string[];
  panels: PanelDef[];
}
