/**
 * The live status panel of `tributary demo` and `tributary run` on a terminal: the
 * pipeline's state and uptime, the dashboard's URL, the input rate, lag, DLQ, and per
 * sink its table's version on storage, rows written and latency p50/p99 from ingest.
 * The figures are the ones the HTTP API's status answers (RunningPipeline) and the
 * tables' logs; a terminal that is not one gets the commands' plain lines instead.
 *
 * An 80-column sample is in docs/cli.md ("Live status on a terminal").
 */
import type { RunningPipeline } from '../server/pipelines/registry.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Histogram } from '../stream/metrics.ts';
import { StatusPanel } from './status-panel.ts';
import { TableVersions } from './table-versions.ts';
import { colorOk, columnsOf } from './terminal.ts';

export interface PanelFigures {
  title: string;
  entry: RunningPipeline;
  versions: TableVersions;
  /** The dashboard's URL, when the API is served. */
  url?: string;
  /** Events the demo's generator produced so far. */
  produced?: number;
  /** A scenario's own short lines, after the common ones. */
  extra?: string[];
  color?: boolean;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(hh > 0 ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

function quantiles(h: Histogram): string {
  if (h.total === 0) return '-';
  return `${n(h.quantile(0.5))}/${n(h.quantile(0.99))} ms`;
}

/** The panel's lines for a terminal `width` columns wide (the panel cuts what is still too wide). */
export function panelLines(f: PanelFigures, width: number): string[] {
  const m = f.entry.metrics;
  const bold = (s: string) => (f.color ? `\x1b[1m${s}\x1b[22m` : s);
  const lines: string[] = [];
  const head = `${bold(f.title)} · ${f.entry.state} ${clock(f.entry.uptimeSeconds())}`;
  const dash = f.url === undefined ? '' : `dashboard ${f.url}`;
  const headLength = f.title.length + 3 + f.entry.state.length + 1 + clock(f.entry.uptimeSeconds()).length;
  if (dash !== '' && headLength + 3 + dash.length <= width) lines.push(`${head} · ${dash}`);
  else {
    lines.push(head);
    if (dash !== '') lines.push(dash);
  }
  const rate = f.entry.throughput().recordsInPerSecond;
  const input = [`in ${n(rate)} events/s`];
  if (f.produced !== undefined) input.push(`generated ${n(f.produced)}`);
  input.push(`read ${n(m.recordsIn)}`, `lag ${n(m.totalLag())}`);
  lines.push(input.join(' · '));
  const dlq = [`DLQ ${n(m.dlqWritten)}`];
  if (m.late > 0) dlq.push(`late ${n(m.late)}`);
  if (m.deduplicated > 0) dlq.push(`duplicates dropped ${n(m.deduplicated)}`);
  if (f.entry.errors.length > 0) dlq.push(`errors ${f.entry.errors.length}`);
  lines.push(dlq.join(' · '));
  // In the definition's order; sinks that have not written yet are listed too.
  const declared = f.entry.pipeline.describe().sinks;
  const sinks = [...new Set([...declared, ...m.sinks.keys()])];
  if (sinks.length > 0) {
    const nameWidth = Math.min(24, Math.max(4, ...sinks.map((s) => s.length)));
    const rows = sinks.map((s) => {
      const c = m.sink(s);
      const table = f.entry.sinkTables.get(s);
      const v = table === undefined ? undefined : f.versions.get(table);
      return [s, v === undefined ? '-' : `v${v}`, n(c.rows), quantiles(c.ingestLatencyMs)];
    });
    const vWidth = Math.max(7, ...rows.map((r) => r[1].length));
    const rowsWidth = Math.max(4, ...rows.map((r) => r[2].length));
    const row = (r: string[]) =>
      `${r[0].padEnd(nameWidth)}  ${r[1].padStart(vWidth)}  ${r[2].padStart(rowsWidth)}  ${r[3]}`;
    lines.push(bold(row(['sink', 'version', 'rows', 'latency p50/p99'])));
    for (const r of rows) lines.push(row(r));
  }
  lines.push(...(f.extra ?? []));
  return lines;
}

export interface PipelinePanelOptions {
  title: string;
  entry: RunningPipeline;
  dataDir: string;
  /** The API's base URL when served (the dashboard is under /ui/). */
  url?: string;
  /** The terminal it is drawn on. */
  out: NodeJS.WriteStream;
  /** Generated so far (demos). */
  produced?: () => number;
  /** The pipeline's tables by name, when they are not simply `<data-dir>/tables/<name>`. */
  tables?: ReadonlyMap<string, { store: ObjectStore }>;
  extra?: () => string[];
}

/** The panel of one pipeline: `show()` on every tick, `finish()` at the end. */
export class PipelinePanel {
  private readonly opts: PipelinePanelOptions;
  private readonly panel: StatusPanel;
  private readonly versions: TableVersions;

  constructor(opts: PipelinePanelOptions) {
    this.opts = opts;
    this.panel = new StatusPanel(opts.out);
    this.versions = new TableVersions(opts.dataDir);
  }

  /** Reads the tables' versions and the lag, and redraws. */
  async show(): Promise<void> {
    const { entry } = this.opts;
    entry.sample();
    await Promise.all([
      entry.refreshLag(),
      this.versions.refresh(entry.sinkTables.values(), this.opts.tables).catch(() => {}),
    ]);
    this.panel.update(
      panelLines(
        {
          title: this.opts.title,
          entry,
          versions: this.versions,
          ...(this.opts.url !== undefined && { url: `${this.opts.url}/ui/` }),
          ...(this.opts.produced && { produced: this.opts.produced() }),
          ...(this.opts.extra && { extra: this.opts.extra() }),
          color: colorOk(),
        },
        columnsOf(this.opts.out) - 1,
      ),
    );
  }

  /** Draws the final state and leaves it on the screen; what is printed next goes below. */
  async finish(): Promise<void> {
    await this.show().catch(() => {});
    this.panel.stop();
  }

  /** Stops redrawing without a last refresh (an error on the way out). */
  stop(): void {
    this.panel.stop();
  }
}
