/**
 * The sink contract (test/stream/sink-contract.ts) for the PostgreSQL sink, against both
 * back ends: the embedded PGlite served on a loopback port (always), and a real PostgreSQL
 * server (when the test command started one: TRIBUTARY_TEST_POSTGRES). Two variants each:
 * keyed by the record's position (every record a row: an append through upserts) and
 * keyed by `k` (one row per key, the newest, as a serving table holds it).
 *
 * Storage faults are injected between the sink and the real database (faulty.ts): a
 * statement that never arrives, one whose answer is lost, one that lands late. What the
 * database durably holds is read back over a connection of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { PostgresPool } from '../../../src/connectors/postgres/client.ts';
import { EmbeddedPostgres } from '../../../src/connectors/postgres/embedded.ts';
import { PostgresSink } from '../../../src/connectors/postgres/sink.ts';
import { type ContractRecord, type Row, type SinkFactory, sinkContract } from '../../stream/sink-contract.ts';
import { FaultyConnector } from './faulty.ts';

type Variant = 'rows' | 'newest';

const tsText = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

const row = (r: ContractRecord): Row => ({
  src_p: r._p,
  src_o: String(r._o),
  id: r.id,
  k: r.k,
  amount: r.amount,
  ts: tsText(r.ts),
  note: r.note,
});

const COLUMNS = [
  { name: 'src_p', type: 'integer' },
  { name: 'src_o', type: 'bigint' },
  { name: 'id', type: 'text' },
  { name: 'k', type: 'integer' },
  { name: 'amount', type: 'numeric(10,2)' },
  { name: 'ts', type: 'timestamptz' },
  { name: 'note', type: 'text' },
];

let tables = 0;

function pgFactory(backend: () => Promise<string>, label: string, variant: Variant): SinkFactory {
  return {
    async open(opts = {}) {
      const url = await backend();
      const n = ++tables;
      const table = { schema: `contract_${label}`, name: `${variant}_${process.pid}_${n}` };
      const appIdPrefix = `contract/${label}-${variant}-${process.pid}-${n}/topic`;
      const pool = new PostgresPool(url, { max: 3 });
      const reader = new PostgresPool(url, { max: 1 });
      const faulty = opts.faults
        ? new FaultyConnector(pool, opts.faults.kind, opts.faults.seed, label === 'pglite' ? 30 : undefined)
        : undefined;
      const make = (db: typeof pool | FaultyConnector) =>
        new PostgresSink({
          name: `contract_${variant}`,
          appIdPrefix,
          db,
          table,
          key: variant === 'rows' ? ['src_p', 'src_o'] : ['k'],
          columns: COLUMNS,
          updatedAt: 'updated_at',
          progressTable: { schema: table.schema, name: `${table.name}_progress` },
          select:
            variant === 'rows'
              ? (from) => `SELECT _p AS src_p, _o AS src_o, id, k, amount, ts, note FROM ${from}`
              : (from) =>
                  `SELECT _p AS src_p, _o AS src_o, id, k, amount, ts, note FROM ${from} QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts DESC, id DESC) = 1`,
        });
      const sink = make(faulty ?? pool);
      const read = async <R>(sql: string, values?: unknown[]) => {
        const s = await reader.connect();
        try {
          return (await s.query<R>(sql, values)).rows;
        } finally {
          s.release();
        }
      };
      return {
        sink,
        fresh: async () => make(pool),
        rows: async () =>
          read<Row>(
            `SELECT src_p, src_o::text AS src_o, id, k, amount::text AS amount,
               to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS ts, note
             FROM "${table.schema}"."${table.name}"`,
          ).catch((err) => {
            // Nothing committed yet: the table may not exist.
            if ((err as { code?: string }).code === '42P01') return [];
            throw err;
          }),
        marker: async (appId) => {
          const rows = await read<{ version: string }>(
            `SELECT version FROM "${table.schema}"."${table.name}_progress" WHERE app_id = $1`,
            [appId],
          ).catch(() => []);
          return rows.length === 0 ? undefined : Number(rows[0].version);
        },
        ...(faulty && {
          faults: {
            on: () => {
              faulty.enabled = true;
            },
            off: async () => {
              faulty.enabled = false;
              await faulty.settle();
            },
            fired: () => faulty.fired,
          },
        }),
        dispose: async () => {
          await faulty?.settle();
          await pool.end();
          await reader.end();
        },
      };
    },
    expected(records) {
      if (variant === 'rows') return records.map(row);
      const newest = new Map<number, ContractRecord>();
      for (const r of records) {
        const cur = newest.get(r.k);
        if (!cur || r.ts > cur.ts || (r.ts === cur.ts && r.id > cur.id)) newest.set(r.k, r);
      }
      return [...newest.values()].map(row);
    },
  };
}

// The embedded back end: one PGlite for the file, started on first use.
let embedded: Promise<EmbeddedPostgres> | undefined;
const dir = mkdtempSync(join(tmpdir(), 'tributary-pg-contract-'));
const embeddedUrl = async () => {
  embedded ??= EmbeddedPostgres.start({ dir: join(dir, 'postgres'), port: 0 });
  return (await embedded).url;
};
after(async () => {
  if (embedded) await (await embedded).stop();
  rmSync(dir, { recursive: true, force: true });
});

sinkContract('PostgresSink on embedded PGlite (rows)', pgFactory(embeddedUrl, 'pglite', 'rows'));
sinkContract('PostgresSink on embedded PGlite (newest per key)', pgFactory(embeddedUrl, 'pglite', 'newest'));

const server = process.env.TRIBUTARY_TEST_POSTGRES;
if (server) {
  sinkContract(
    'PostgresSink on PostgreSQL (rows)',
    pgFactory(async () => server, 'server', 'rows'),
  );
  sinkContract(
    'PostgresSink on PostgreSQL (newest per key)',
    pgFactory(async () => server, 'server', 'newest'),
  );
}
