/**
 * What `tributary demo saas` prints: the progress line, the dead-letter queue's records
 * counted by reason, the closing summary, and the commands to try afterwards (each one
 * runs as printed: test/cli/demo-saas.test.ts runs them).
 */
import type { Log } from '../../log/log.ts';
import { runQuery } from '../../query/run.ts';
import { decodeDeadLetter } from '../../stream/dead-letter.ts';
import type { Histogram, PipelineMetrics } from '../../stream/metrics.ts';
import { cliName, type Example, shellWord } from './demo-try.ts';

/** Milliseconds as a person reads them: 850 ms, 2.4 s, 7.5 min. */
export function duration(ms: number): string {
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

function quantiles(h: Histogram | undefined): string {
  if (!h || h.total === 0) return '-';
  const p50 = h.quantile(0.5);
  const p99 = h.quantile(0.99);
  if (p99 < 10_000) return `${Math.round(p50)}/${Math.round(p99)} ms`;
  return `${duration(p50)}/${duration(p99)}`;
}

/** p50/p99 from ingest (log time) and from event time to the sink's commit. */
export function sinkLatency(m: PipelineMetrics, sink: string): string {
  const c = m.sinks.get(sink);
  return `from ingest ${quantiles(c?.ingestLatencyMs)}, from event time ${quantiles(c?.eventLatencyMs)}`;
}

/**
 * Records silver did not write because their event_id was there already: a producer's
 * retries (bronze keeps them). The dedup step before gold drops the same copies and
 * counts them in `deduplicated`: adding both would count each twice.
 */
export function duplicatesDropped(m: PipelineMetrics): number {
  return m.sinks.get('silver')?.duplicates ?? 0;
}

const rows = (m: PipelineMetrics, sink: string) => m.sinks.get(sink)?.rows ?? 0;

/**
 * Reads the dead-letter topic as the pipeline writes it, from where it stood when the demo
 * started, and counts its records by rule (and field, for the contract's rules).
 */
export class DeadLetterTally {
  readonly byReason = new Map<string, number>();
  total = 0;
  private readonly log: Log;
  private readonly topic: string;
  private next: number[] = [];
  private polling: Promise<void> = Promise.resolve();

  constructor(log: Log, topic: string) {
    this.log = log;
    this.topic = topic;
  }

  /** Remembers where the topic ends now (it may not exist yet: then from its start). */
  async start(partitions: number): Promise<void> {
    for (let p = 0; p < partitions; p++) {
      this.next.push(
        await this.log.offsets(this.topic, p).then(
          (o) => o.latest,
          () => 0,
        ),
      );
    }
  }

  /** Counts the records written since the last call (quietly nothing while the topic is missing). */
  poll(): Promise<void> {
    this.polling = this.polling.catch(() => {}).then(() => this.read());
    return this.polling;
  }

  private async read(): Promise<void> {
    for (let p = 0; p < this.next.length; p++) {
      for (;;) {
        const res = await this.log.fetch(this.topic, p, this.next[p]).catch(() => undefined);
        // Nothing new, unless offsets without records (Kafka's transaction markers) were stepped over.
        if (!res || (res.records.length === 0 && res.nextOffset <= this.next[p])) break;
        for (const r of res.records) {
          if (r.value === null) continue;
          const d = decodeDeadLetter(r.value);
          const reason = d.field ? `${d.rule} ${d.field}` : d.rule;
          this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
          this.total++;
        }
        this.next[p] = res.nextOffset;
      }
    }
  }

  /** `enum region 22, avro_magic 42, ...`, most frequent first. */
  reasons(limit = Infinity): string {
    const sorted = [...this.byReason].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const shown = sorted.slice(0, limit).map(([r, n]) => `${r} ${n}`);
    if (sorted.length > limit) shown.push('...');
    return shown.join(', ');
  }
}

export interface Progress {
  produced: number;
  version: 1 | 2;
  elapsedMs: number;
  /** Records read per second since the last line. */
  readRate: number;
}

/** The two lines printed every two seconds while the demo runs. */
export function progressLines(m: PipelineMetrics, p: Progress, dlq: DeadLetterTally): string {
  const secs = Math.round(p.elapsedMs / 1000);
  const pad = ' '.repeat(String(secs).length + 3);
  return (
    `${secs} s  generated ${p.produced} (writing v${p.version})  read ${m.recordsIn} (${p.readRate}/s)  ` +
    `bronze ${rows(m, 'bronze')}  silver ${rows(m, 'silver')}  gold ${rows(m, 'gold')}  ` +
    `late ${m.late}  duplicates dropped ${duplicatesDropped(m)}  dq.results ${rows(m, 'quality')}\n` +
    `${pad}DLQ ${dlq.total}${dlq.total > 0 ? ` (${dlq.reasons(4)})` : ''}  ` +
    `latency p50/p99 to silver ${sinkLatency(m, 'silver')}`
  );
}

/** The commands printed at the end: SQL over the tables, and the DLQ read with `tributary consume`. */
export function examples(dataDir: string, kafka: string | undefined): Example[] {
  const data = `--data-dir ${shellWord(dataDir)}`;
  const logFlag = kafka ? `--kafka ${shellWord(kafka)}` : data;
  const cli = cliName();
  const query = (sql: string) => `${cli} query ${data} "${sql}"`;
  const fromTopic = (topic: string, sql: string) =>
    `${cli} consume ${topic} --from-beginning --timeout-ms 1000 ${logFlag} | ${query(sql)}`;
  return [
    {
      title: 'revenue by plan tier and region (gold; amounts of different currencies are never added)',
      command: query(
        'SELECT plan_tier, region, currency, sum(revenue) AS revenue, sum(refunds) AS refunds, sum(events) AS events FROM sales_revenue_5m GROUP BY ALL ORDER BY revenue DESC',
      ),
    },
    {
      title: 'the five best 5-minute windows',
      command: query(
        'SELECT window_start, plan_tier, region, currency, revenue, accounts FROM sales_revenue_5m ORDER BY revenue DESC LIMIT 5',
      ),
    },
    {
      title: 'late share: events behind the watermark (kept out of gold) against all events in silver',
      command: query(
        'SELECT late, events, round(100.0 * late / events, 2) AS late_pct FROM (SELECT count(*) AS late FROM sales_late_events), (SELECT count(*) AS events FROM sales_silver)',
      ),
    },
    {
      title: 'schema versions in silver (v1 records read with v2: discount_code null)',
      command: query(
        'SELECT schema_version, count(*) AS events, count(discount_code) AS with_discount_code FROM sales_silver GROUP BY 1 ORDER BY 1',
      ),
    },
    {
      title: 'the DLQ by reason (each record: the original bytes, the rule and the reason)',
      command: fromTopic(
        'sales.events.dlq.v1',
        "SELECT json->'value'->>'rule' AS rule, json->'value'->>'field' AS field, count(*) AS records FROM read_ndjson_objects('/dev/stdin') GROUP BY ALL ORDER BY records DESC",
      ),
    },
  ];
}

/** Silver's events per schema version (all runs on this data directory). */
export async function silverVersions(
  dataDir: string,
): Promise<Array<{ version: number; events: number; withDiscount: number }>> {
  const res = await runQuery(
    'SELECT schema_version, count(*) AS events, count(discount_code) AS with_discount FROM sales_silver GROUP BY 1 ORDER BY 1',
    { dataDir },
  );
  return res.rows.map((r) => ({
    version: Number(r.schema_version),
    events: Number(r.events),
    withDiscount: Number(r.with_discount),
  }));
}
