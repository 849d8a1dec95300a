/**
 * What `tributary demo orders` prints when it ends: what the run did (events generated,
 * rows committed, dead letters, duplicates dropped), what the two tables hold now (rows
 * and version, over every run on this data directory), and the commands to try
 * afterwards (each runs as printed: test/cli/demo-orders.test.ts runs them).
 */
import { runQuery } from '../../query/run.ts';
import type { PipelineMetrics } from '../../stream/metrics.ts';
import type { DeltaTable } from '../../table/index.ts';
import { cliName, type Example, logFlags, shellWord } from './demo-try.ts';

export const ORDERS_DLQ_TOPIC = 'orders.dlq';

/** The closing lines: this run's counts, then each table's rows and version. */
export async function ordersSummary(
  m: PipelineMetrics,
  produced: number,
  dataDir: string,
  tables: { events: DeltaTable; current: DeltaTable },
): Promise<string[]> {
  const events = m.sinks.get('orders_events');
  const { rows } = await runQuery(
    'SELECT (SELECT count(*) FROM orders_events) AS events, (SELECT count(*) FROM orders_current) AS orders',
    { dataDir },
  );
  const [eventsVersion, currentVersion] = await Promise.all(
    [tables.events, tables.current].map(async (t) => (await t.snapshot()).version),
  );
  return [
    `this run: ${produced} events generated, ${events?.rows ?? 0} committed to orders_events, ` +
      `${m.dlqWritten} to the DLQ (${ORDERS_DLQ_TOPIC}: the record's bytes and the reason), ` +
      `${events?.duplicates ?? 0} duplicates dropped (an event_id seen before)`,
    `tables now: orders_events ${Number(rows[0].events)} events (version ${eventsVersion}), ` +
      `orders_current ${Number(rows[0].orders)} orders, each in its latest state (version ${currentVersion})`,
  ];
}

/** The commands printed at the end: SQL over the tables, time travel, the DLQ by reason. */
export function ordersExamples(dataDir: string, kafka: string | undefined): Example[] {
  const data = `--data-dir ${shellWord(dataDir)}`;
  const cli = cliName();
  const query = (sql: string) => `${cli} query ${data} "${sql}"`;
  return [
    {
      title: 'orders by status now (orders_current: one row per order, MERGEd as events arrive)',
      command: query(
        'SELECT status, count(*) AS orders, sum(total_amount) AS amount FROM orders_current GROUP BY 1 ORDER BY 2 DESC',
      ),
    },
    {
      title: 'events per type and hour (orders_events, partitioned by event hour)',
      command: query(
        'SELECT event_hour, event_type, count(*) AS events FROM orders_events GROUP BY ALL ORDER BY ALL DESC LIMIT 10',
      ),
    },
    {
      title: 'time travel: the table as its first commit left it',
      command: query('SELECT count(*) AS events FROM orders_events VERSION AS OF 0'),
    },
    {
      title: 'the DLQ by reason (each record: the original bytes, the rule and the reason)',
      command:
        `${cli} consume ${ORDERS_DLQ_TOPIC} --from-beginning --timeout-ms 1000 ${logFlags(dataDir, kafka)} | ` +
        query(
          "SELECT json->'value'->>'rule' AS rule, json->'value'->>'field' AS field, count(*) AS records FROM read_ndjson_objects('/dev/stdin') GROUP BY ALL ORDER BY records DESC",
        ),
    },
  ];
}
