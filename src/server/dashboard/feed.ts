/**
 * One dashboard's data, kept current for every page that shows it. All pages share one
 * computation: the SQL panels run again only when a table they read has a new version
 * (and at most once per `sqlIntervalMs`), the DLQ is read incrementally, the live numbers
 * come from the sampler. Pages that follow the stream get the whole dashboard first and
 * then, each second something changed, the panels that did.
 */
import { type Clock, systemClock } from '../../core/clock.ts';
import type { Log } from '../../log/log.ts';
import { jsonText } from '../../query/index.ts';
import type { QuerySlots } from '../query-slots.ts';
import type { TableCache } from '../tables/open.ts';
import type { DashboardDef, PanelDef, SqlSource } from './definition.ts';
import { DlqReader, type DlqState } from './dlq.ts';
import type { LiveSampler } from './live.ts';
import { type PanelAnswer, panelError, runSqlPanel, tableVersions } from './sql-panels.ts';

export interface FeedOptions {
  dataDir: string;
  tables: TableCache;
  /** Runs the SQL panels (one at a time across dashboards: a page never crowds out the API). */
  slots: QuerySlots;
  /** The log holding the pipeline's dead-letter topic; without it the DLQ panels say so. */
  log?: Log;
  live?: LiveSampler;
  clock?: Clock;
  /** Least time between two runs of the SQL panels (default 2 s). */
  sqlIntervalMs?: number;
  /** How often a followed dashboard is checked for changes (default 1 s). */
  tickMs?: number;
}

export type PanelData = Omit<PanelDef, 'source'> & { source: PanelDef['source']['type'] } & PanelAnswer;

export interface DashboardData {
  name: string;
  title: string;
  description: string;
  pipeline: string;
  /** When this answer was put together (ISO-8601 UTC). */
  computedAt: string;
  /** The version of each table the SQL panels read (null: not created yet). */
  versions: Record<string, number | null>;
  /** True when the pipeline runs in this server's process (the live panels have numbers). */
  live: boolean;
  panels: PanelData[];
}

/** A change pushed to a page: the whole dashboard, or the panels that changed. */
export type FeedMessage = { event: 'dashboard' | 'panels'; data: string };

const notLive = (pipeline: string) =>
  `the ${pipeline} pipeline does not run in this server: live numbers appear when it does (tributary demo ${pipeline}, or tributary run ${pipeline} --serve)`;

export class DashboardFeed {
  readonly def: DashboardDef;
  private readonly opts: FeedOptions;
  private readonly clock: Clock;
  private readonly dlq: DlqReader | undefined;
  private sqlKey = '';
  private sqlAt = Number.NEGATIVE_INFINITY;
  private sqlAnswers = new Map<string, PanelAnswer>();
  /** How long each SQL panel's query took when the answers were computed (ms). */
  private sqlTimings = new Map<string, number>();
  private inflight: Promise<DashboardData> | undefined;
  private lastAt = Number.NEGATIVE_INFINITY;
  private last: DashboardData | undefined;
  /**
   * What the followers were last sent, whole, and each panel's JSON in it: a page that
   * starts following gets exactly this, so the changes sent next apply to what it has.
   */
  private shown: DashboardData | undefined;
  private sent = new Map<string, string>();
  private readonly followers = new Set<(m: FeedMessage) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(def: DashboardDef, opts: FeedOptions) {
    this.def = def;
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.dlq =
      opts.log === undefined || def.dlqTopic === undefined
        ? undefined
        : new DlqReader(opts.log, def.dlqTopic);
  }

  /** The dashboard now (computed at most once a second, shared by concurrent callers). */
  current(): Promise<DashboardData> {
    if (this.last !== undefined && this.clock.now() - this.lastAt < (this.opts.tickMs ?? 1000) / 2) {
      return Promise.resolve(this.last);
    }
    this.inflight ??= this.compute().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Follows the dashboard: `send` gets it whole at once, then its changes. Returns the unfollow. */
  follow(send: (m: FeedMessage) => void): () => void {
    let left = false;
    // Sent whole and added in one step: no change can be broadcast in between.
    const join = () => {
      if (left || this.shown === undefined) return;
      send({ event: 'dashboard', data: jsonText(this.shown) });
      this.followers.add(send);
    };
    if (this.shown !== undefined) join();
    else {
      void this.current().then(
        (data) => {
          if (this.shown === undefined) this.show(data);
          join();
        },
        () => {},
      );
    }
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
      this.timer.unref();
    }
    return () => {
      left = true;
      this.followers.delete(send);
      if (this.followers.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /**
   * A `Server-Timing` header value: how long each SQL panel's query took (ms) when its
   * answer was computed (`totals;dur=12.3, orders_by_status;dur=8.1`); the answer may
   * have been computed for an earlier request (at the same versions).
   */
  serverTiming(): string {
    return [...this.sqlTimings].map(([id, ms]) => `${id};dur=${ms.toFixed(1)}`).join(', ');
  }

  get followerCount(): number {
    return this.followers.size;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.followers.clear();
  }

  private async tick(): Promise<void> {
    let data: DashboardData;
    try {
      data = await this.current();
    } catch {
      return; // the next tick tries again; GET answers the error
    }
    const changed = this.show(data);
    if (changed.length === 0) return;
    const message: FeedMessage = {
      event: 'panels',
      data: jsonText({
        computedAt: data.computedAt,
        versions: data.versions,
        live: data.live,
        panels: changed,
      }),
    };
    for (const send of this.followers) send(message);
  }

  /** Makes `data` what followers have; returns the panels that changed. */
  private show(data: DashboardData): PanelData[] {
    const changed: PanelData[] = [];
    for (const panel of data.panels) {
      const text = jsonText(panel);
      if (this.sent.get(panel.id) !== text) {
        this.sent.set(panel.id, text);
        changed.push(panel);
      }
    }
    this.shown = data;
    return changed;
  }

  private async compute(): Promise<DashboardData> {
    const now = this.clock.now();
    const versions = await tableVersions(this.opts.tables, this.def.tables);
    const key = JSON.stringify(versions);
    if (key !== this.sqlKey && now - this.sqlAt >= (this.opts.sqlIntervalMs ?? 2000)) {
      const answers = new Map<string, PanelAnswer>();
      const timings = new Map<string, number>();
      for (const panel of this.def.panels) {
        if (panel.source.type !== 'sql') continue;
        const p = panel as PanelDef & { source: SqlSource };
        answers.set(
          panel.id,
          await this.opts.slots.run(async () => {
            const t0 = performance.now();
            const answer = await runSqlPanel(p, versions, this.opts.dataDir, this.opts.tables);
            timings.set(panel.id, performance.now() - t0);
            return answer;
          }),
        );
      }
      this.sqlAnswers = answers;
      this.sqlTimings = timings;
      this.sqlKey = key;
      this.sqlAt = now;
    }
    let dlq: DlqState | undefined;
    let dlqError: PanelAnswer['error'];
    if (this.dlq !== undefined) {
      try {
        await this.dlq.refresh();
        dlq = this.dlq.state();
      } catch (err) {
        dlqError = panelError(err);
      }
    }
    const live = this.opts.live?.running(this.def.pipeline) ?? false;
    const panels = this.def.panels.map((panel): PanelData => {
      const { source, ...meta } = panel;
      const answer = this.answer(panel, dlq, dlqError);
      return { ...meta, source: source.type, ...answer };
    });
    // The versions the SQL panels were computed at (a newer one waits for the interval).
    const data: DashboardData = {
      name: this.def.name,
      title: this.def.title,
      description: this.def.description,
      pipeline: this.def.pipeline,
      computedAt: new Date(now).toISOString(),
      versions: this.sqlKey === '' ? versions : JSON.parse(this.sqlKey),
      live,
      panels,
    };
    this.last = data;
    this.lastAt = now;
    return data;
  }

  private answer(panel: PanelDef, dlq: DlqState | undefined, dlqError: PanelAnswer['error']): PanelAnswer {
    const source = panel.source;
    if (source.type === 'sql') return this.sqlAnswers.get(panel.id) ?? { columns: [], rows: [] };
    if (source.type === 'live') {
      const answer = this.opts.live?.answer(this.def.pipeline, source);
      return answer ?? { columns: [], rows: [], note: notLive(this.def.pipeline) };
    }
    if (dlqError !== undefined) return { columns: [], rows: [], error: dlqError };
    if (this.def.dlqTopic === undefined) {
      return { columns: [], rows: [], note: `the ${this.def.pipeline} pipeline has no dead-letter topic` };
    }
    if (dlq === undefined) {
      return {
        columns: [],
        rows: [],
        note: `this server does not read the event log, so it cannot show ${this.def.dlqTopic}`,
      };
    }
    return dlqAnswer(dlq, source.view);
  }
}

function dlqAnswer(dlq: DlqState, view: 'total' | 'by_reason' | 'recent'): PanelAnswer {
  const count = { type: 'BIGINT' };
  const text = { type: 'VARCHAR' };
  switch (view) {
    case 'total':
      return { columns: [{ name: 'records', ...count }], rows: [[dlq.total]] };
    case 'by_reason':
      return {
        columns: [
          { name: 'reason', ...text },
          { name: 'records', ...count },
        ],
        rows: dlq.byReason.map((r) => [r.field === '' ? r.rule : `${r.rule}: ${r.field}`, r.records]),
      };
    case 'recent':
      return {
        columns: [
          { name: 'rejected_at', ...text },
          { name: 'partition', ...count },
          { name: 'offset', ...count },
          { name: 'reason', ...text },
        ],
        rows: dlq.recent.map((r) => [r.rejectedAt, r.partition, r.offset, r.reason]),
      };
  }
}
