/**
 * One streaming session on a replication connection: pgoutput messages become change
 * events, transactions are kept whole and published in batches (several small
 * transactions per publish), and the slot is acknowledged up to a transaction's end
 * only once the publish holding it resolved — so after a crash the slot replays exactly
 * the changes that may not be in the topic, at the same positions.
 *
 * Acknowledgement (the standby status update's flushed LSN, which becomes the slot's
 * confirmed_flush_lsn):
 * - after each publish: the end LSN of the last transaction in it;
 * - on a keepalive, when nothing is received but unpublished: the keepalive's WAL end.
 *   The server sends a keepalive only between transactions it has sent, with the
 *   position it has decoded up to, so every transaction committed before it is already
 *   here and published; acknowledging it lets the server recycle WAL while the table is
 *   idle (other tables' writes would otherwise pile up WAL behind the slot). A keepalive
 *   arriving inside a transaction is not used.
 * The server's reply-requested keepalives are answered at once (else wal_sender_timeout
 * ends the connection), and a status is sent every `statusIntervalMs` besides.
 */
import { crashPoint } from '../../../../core/crash-points.ts';
import { TributaryError } from '../../../../core/errors.ts';
import type { PgTableName } from '../../tables.ts';
import { type ChangeColumn, type ChangeEvent, lsnText, type RowImage } from '../change.ts';
import {
  decodePgOutput,
  type PgOutputMessage,
  type ReplicationMessage,
  type TupleValue,
} from './pgoutput.ts';
import { ReplicationConnection } from './replication.ts';

export interface StreamOptions {
  url: string;
  target: string;
  applicationName: string;
  table: PgTableName;
  /** The table's OID at start: its row messages are the ones captured. */
  tableOid: number;
  key: readonly string[];
  slot: string;
  publication: string;
  /** Publishes a batch; resolves once durable, or false when the capture is stopping and it gave up. */
  publish(events: ChangeEvent[]): Promise<boolean>;
  report(line: string): void;
  signal?: AbortSignal;
  /** Stop once everything up to this LSN is acknowledged (and nothing is pending). */
  untilLsn?: bigint;
  heartbeatMs?: number;
  statusIntervalMs: number;
  /** Events per publish at most (a transaction is never split: a larger one goes alone). */
  maxBatchEvents: number;
  /** Events held unpublished above which the connection stops reading. */
  highWater: number;
  /** Called once a batch is durable and acknowledged. */
  onBatch(transactions: number, events: number, durable: bigint): void;
}

interface Txn {
  commitLsn: bigint;
  endLsn: bigint;
  xid: number;
  commitTime: number;
  events: ChangeEvent[];
}

interface Relation {
  oid: number;
  columns: ChangeColumn[];
  /** The key columns' indexes in `columns`. */
  keyIndex: number[];
  full: boolean;
}

/**
 * Streams from `from` (0: the slot's confirmed_flush_lsn) until stopped, caught up, or
 * the connection fails (rejects: the caller reconnects from `progress.durable` when
 * PostgreSQL was unavailable). `progress.durable` is the acknowledged position.
 */
export async function streamChanges(
  o: StreamOptions,
  progress: { durable: bigint },
): Promise<'stopped' | 'caught-up'> {
  const conn = await ReplicationConnection.open(o.url, o.target, { applicationName: o.applicationName });
  const relations = new Map<number, Relation>();
  const ready: Txn[] = [];
  let readyEvents = 0;
  let current: Txn | null = null;
  let serverEnd = 0n;
  let lastSent = -1n;
  let publishing = false;
  let paused = false;
  let failure: unknown;
  let lastHeard = Date.now();
  let warnedIdentity = false;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const idle = () => current === null && ready.length === 0 && !publishing;
  const ackPosition = () => {
    const end = idle() && serverEnd > progress.durable ? serverEnd : progress.durable;
    return end;
  };
  const send = (replyRequested: boolean) => {
    const lsn = ackPosition();
    conn.sendStatus(lsn, replyRequested);
    lastSent = lsn;
  };
  const fail = (err: unknown) => {
    if (failure === undefined) failure = err;
    wakeUp();
  };

  const image = (values: TupleValue[], fallback: TupleValue[] | null, rel: Relation): RowImage => {
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== undefined) continue;
      const old = fallback?.[i];
      if (old === undefined) {
        throw new TributaryError(
          'CAPTURE_TABLE_INVALID',
          `an UPDATE of ${o.table.schema}.${o.table.name} left the large value of column '${rel.columns[i]?.name}' unchanged and PostgreSQL did not send it: the table's REPLICA IDENTITY is no longer FULL. Run ALTER TABLE "${o.table.schema}"."${o.table.name}" REPLICA IDENTITY FULL; the changes made since cannot be captured with their values (start the capture over with a new snapshot: delete its state directory).`,
          { table: `${o.table.schema}.${o.table.name}` },
        );
      }
      values[i] = old;
    }
    return values as RowImage;
  };

  const change = (m: PgOutputMessage & { oid: number }) => {
    if (current === null) throw new Error(`pgoutput sent a row change outside a transaction`);
    if (m.oid !== o.tableOid) return;
    const rel = relations.get(m.oid);
    if (rel === undefined)
      throw new Error(`pgoutput sent a change of relation ${m.oid} before describing it`);
    const txn = current;
    const push = (op: ChangeEvent['op'], before: RowImage | null, after: RowImage | null) => {
      txn.events.push({
        op,
        schema: o.table.schema,
        table: o.table.name,
        columns: rel.columns,
        key: o.key,
        before,
        after,
        pos: txn.commitLsn,
        seq: txn.events.length,
        txid: txn.xid,
        lsn: lsnText(txn.commitLsn),
        commitTime: txn.commitTime,
        snapshot: false,
      });
    };
    if (m.tag === 'insert') {
      push('c', null, image(m.after, null, rel));
    } else if (m.tag === 'update') {
      const old = m.before !== null && !m.keyOnly ? m.before : null;
      const after = image(m.after, old, rel);
      const before = m.before === null ? null : image(m.before, null, rel);
      // A key changed: as Debezium, a delete of the old key then a create of the new one
      // (a key-only old row comes only when the identity's columns changed).
      if (before !== null && (m.keyOnly || rel.keyIndex.some((i) => before[i] !== after[i]))) {
        push('d', before, null);
        push('c', null, after);
      } else {
        push('u', before, after);
      }
    } else if (m.tag === 'delete') {
      push('d', image(m.before, null, rel), null);
    }
  };

  const onMessage = (r: ReplicationMessage) => {
    if (failure !== undefined) return;
    lastHeard = Date.now();
    try {
      if (r.kind === 'keepalive') {
        if (current === null && r.walEnd > serverEnd) serverEnd = r.walEnd;
        if (r.replyRequested || ackPosition() > lastSent) send(false);
        wakeUp();
        return;
      }
      const m = decodePgOutput(r.data);
      switch (m.tag) {
        case 'begin':
          current = { commitLsn: m.finalLsn, endLsn: 0n, xid: m.xid, commitTime: m.commitTime, events: [] };
          break;
        case 'commit': {
          if (current === null) throw new Error('pgoutput sent a commit outside a transaction');
          const txn: Txn = current;
          txn.endLsn = m.endLsn;
          ready.push(txn);
          readyEvents += txn.events.length;
          current = null;
          if (readyEvents >= o.highWater && !paused) {
            paused = true;
            conn.pause();
          }
          wakeUp();
          break;
        }
        case 'relation': {
          const columns = m.columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
          const keyIndex = o.key.map((k) => columns.findIndex((c) => c.name === k));
          relations.set(m.oid, { oid: m.oid, columns, keyIndex, full: m.replicaIdentity === 'full' });
          if (m.oid !== o.tableOid) break;
          const missing = o.key.filter((k) => !columns.some((c) => c.name === k));
          if (missing.length > 0) {
            throw new TributaryError(
              'CAPTURE_TABLE_INVALID',
              `the key column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${o.table.schema}.${o.table.name} ${missing.length > 1 ? 'were' : 'was'} dropped or renamed: changes can no longer be keyed. Restore the column, or start a capture with another key.`,
              { table: `${o.table.schema}.${o.table.name}` },
            );
          }
          if (m.replicaIdentity !== 'full' && !warnedIdentity) {
            warnedIdentity = true;
            o.report(
              `warning: ${o.table.schema}.${o.table.name} no longer has REPLICA IDENTITY FULL: updates carry no before image and deletes only the key; run ALTER TABLE "${o.table.schema}"."${o.table.name}" REPLICA IDENTITY FULL`,
            );
          }
          break;
        }
        case 'insert':
        case 'update':
        case 'delete':
          change(m);
          break;
        case 'truncate':
          if (m.oids.includes(o.tableOid)) {
            o.report(
              `warning: ${o.table.schema}.${o.table.name} was truncated; TRUNCATE is not captured (its rows stay in the mirror): remove them downstream, or start the capture over`,
            );
          }
          break;
        default:
          break;
      }
    } catch (err) {
      fail(err);
    }
  };

  let ended = false;
  let started = false;
  // Stopping while the server has not started streaming (START_REPLICATION waits): close the connection.
  const onAbort = () => {
    wakeUp();
    if (!started) conn.close().catch(() => {});
  };
  o.signal?.addEventListener('abort', onAbort);
  try {
    await conn.start(o.slot, o.publication, progress.durable, {
      message: onMessage,
      end: (err) => {
        ended = true;
        fail(
          err ??
            new TributaryError('POSTGRES_UNAVAILABLE', `the replication stream from ${o.target} ended`, {
              target: o.target,
            }),
        );
      },
    });
    started = true;
    if (o.signal?.aborted) return 'stopped';
    send(true);
    let lastStatus = Date.now();
    let lastPing = Date.now();
    for (;;) {
      if (failure !== undefined) throw failure;
      if (o.signal?.aborted) return 'stopped';
      if (ready.length === 0) {
        if (o.untilLsn !== undefined && current === null && ackPosition() >= o.untilLsn) {
          if (ackPosition() > lastSent) send(false);
          return 'caught-up';
        }
        const now = Date.now();
        if (now - lastStatus >= o.statusIntervalMs) {
          send(false);
          lastStatus = now;
        }
        const pingEvery = o.untilLsn !== undefined ? 250 : o.heartbeatMs;
        if (pingEvery !== undefined && now - lastPing >= pingEvery) {
          send(true);
          lastPing = now;
        }
        if (o.heartbeatMs !== undefined && now - lastHeard > 2 * o.heartbeatMs + 10_000) {
          throw new TributaryError(
            'POSTGRES_UNAVAILABLE',
            `PostgreSQL at ${o.target} has not answered the replication heartbeat for ${Math.round((now - lastHeard) / 1000)} s`,
            { target: o.target },
          );
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(
            () => {
              wake = undefined;
              resolve();
            },
            Math.min(o.statusIntervalMs, pingEvery ?? 1_000, 1_000),
          );
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        continue;
      }
      // Whole transactions, up to maxBatchEvents (a larger one alone).
      let n = 0;
      let count = 0;
      while (n < ready.length && (n === 0 || count + ready[n].events.length <= o.maxBatchEvents)) {
        count += ready[n].events.length;
        n++;
      }
      const batch = ready.splice(0, n);
      readyEvents -= count;
      const events = batch.length === 1 ? batch[0].events : batch.flatMap((t) => t.events);
      publishing = true;
      const done = await o.publish(events);
      publishing = false;
      if (!done) return 'stopped';
      crashPoint('capture.logical.published');
      progress.durable = batch[batch.length - 1].endLsn;
      if (!ended) send(false);
      lastStatus = Date.now();
      crashPoint('capture.logical.acknowledged');
      o.onBatch(batch.length, count, progress.durable);
      if (paused && readyEvents < o.highWater / 2) {
        paused = false;
        conn.resume();
      }
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await conn.close();
  }
}
