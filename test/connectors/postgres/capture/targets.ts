/**
 * The two databases a capture runs against in the tests: a database of its own on the
 * shared PostgreSQL test server, and the embedded PGlite served on a loopback port (one
 * session shared by every client, as in `tributary demo cdc`). Each target gives a URL
 * for the capture and a plain client for the test's own SQL: the source table as the
 * truth the topic and the lake are compared with.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../../../../src/connectors/postgres/embedded.ts';
import type { Log } from '../../../../src/log/log.ts';
import { freshDatabase, postgresMissing } from '../server.ts';

export type TargetName = 'server' | 'pglite';

export interface Target {
  name: TargetName;
  url: string;
  /** Runs one statement on the test's own connection. */
  sql<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** Another connection (for concurrent transactions); the caller ends it. */
  client(): Promise<pg.Client>;
  close(): Promise<void>;
}

export const TARGETS: Array<{ name: TargetName; skip: string | undefined }> = [
  { name: 'server', skip: postgresMissing() },
  { name: 'pglite', skip: undefined },
];

export async function openTarget(name: TargetName, prefix: string): Promise<Target> {
  let url: string;
  let dispose: () => Promise<void>;
  if (name === 'server') {
    const db = await freshDatabase(prefix);
    url = db.url;
    dispose = () => db.drop();
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-capture-pglite-'));
    const embedded = await EmbeddedPostgres.start({ dir: join(dir, 'postgres'), port: 0 });
    url = embedded.url;
    dispose = async () => {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const own = new pg.Client({ connectionString: url });
  await own.connect();
  const clients: pg.Client[] = [];
  return {
    name,
    url,
    async sql<R>(text: string, values?: unknown[]) {
      return (await own.query(text, values)).rows as R[];
    },
    async client() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) await c.end().catch(() => {});
      await own.end();
      await dispose();
    },
  };
}

export interface TopicChange {
  partition: number;
  offset: number;
  key: string;
  value: Record<string, unknown>;
  text: string;
}

/** Every record of a topic, parsed, in partition and offset order. */
export async function readChanges(log: Log, topic: string): Promise<TopicChange[]> {
  const { partitions } = await log.describeTopic(topic);
  const out: TopicChange[] = [];
  for (let p = 0; p < partitions; p++) {
    let offset = (await log.offsets(topic, p)).earliest;
    const { latest } = await log.offsets(topic, p);
    while (offset < latest) {
      const res = await log.fetch(topic, p, offset, { maxRecords: 10_000 });
      for (const r of res.records) {
        const text = Buffer.from(r.value ?? []).toString();
        out.push({
          partition: p,
          offset: r.offset,
          key: Buffer.from(r.key ?? []).toString(),
          value: JSON.parse(text),
          text,
        });
      }
      if (res.records.length === 0) break;
      offset = res.nextOffset;
    }
  }
  return out;
}
