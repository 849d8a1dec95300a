/**
 * A replication connection (`replication=database`): the walsender of one database,
 * which creates and drops logical slots and streams a slot's changes. node-postgres opens
 * it and speaks the simple-query protocol; once START_REPLICATION is running, the
 * server's CopyData messages are read from the connection directly (pgoutput.ts decodes
 * them) and standby status updates are sent as CopyData.
 *
 * The session's settings make the walsender print values the way change.ts reads them:
 * TimeZone UTC (a timestamptz is printed in the walsender's time zone), ISO dates, the
 * default interval style and shortest-exact floats. Start-up options outrank what ALTER
 * DATABASE / ALTER ROLE set.
 */
import pg from 'pg';
import { TributaryError } from '../../../../core/errors.ts';
import { quoteIdent } from '../../../../core/sql.ts';
import { postgresError } from '../../errors.ts';
import { lsnText, parseLsn } from '../change.ts';
import { decodeCopyData, type ReplicationMessage, standbyStatus } from './pgoutput.ts';

/** Settings of every session of the capture (replication and normal ones). */
export const SESSION_OPTIONS =
  '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=1';

export interface CreatedSlot {
  /** Where streaming starts: changes committed from here on are streamed, earlier ones are in the snapshot. */
  consistentPoint: bigint;
  /** The exported snapshot, valid until this connection runs its next command or closes. */
  snapshotName: string | null;
}

export interface StreamHandlers {
  message(m: ReplicationMessage): void;
  /** The stream ended: the server or the connection closed it (`err`), or `close()` was called. */
  end(err?: unknown): void;
}

export class ReplicationConnection {
  readonly target: string;
  private readonly client: pg.Client;
  private closed = false;
  private streaming = false;

  private constructor(client: pg.Client, target: string) {
    this.client = client;
    this.target = target;
  }

  static async open(
    url: string,
    target: string,
    opts: { applicationName: string; connectTimeoutMs?: number },
  ): Promise<ReplicationConnection> {
    const config = {
      connectionString: url,
      replication: 'database',
      application_name: opts.applicationName,
      options: SESSION_OPTIONS,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      keepAlive: true,
    };
    const client = new pg.Client(config as pg.ClientConfig);
    // A connection that breaks reports through the client; the stream's end says why.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => {});
      throw replicationError(err, target, 'opening a replication connection');
    }
    return new ReplicationConnection(client, target);
  }

  async createSlot(slot: string, exportSnapshot: boolean): Promise<CreatedSlot> {
    const how = exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT';
    try {
      const { rows } = await this.client.query<{ consistent_point: string; snapshot_name: string | null }>(
        `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${how}`,
      );
      return { consistentPoint: parseLsn(rows[0].consistent_point), snapshotName: rows[0].snapshot_name };
    } catch (err) {
      throw replicationError(err, this.target, `creating the replication slot '${slot}'`);
    }
  }

  async dropSlot(slot: string): Promise<void> {
    try {
      await this.client.query(`DROP_REPLICATION_SLOT ${quoteIdent(slot)}`);
    } catch (err) {
      throw replicationError(err, this.target, `dropping the replication slot '${slot}'`);
    }
  }

  /**
   * Streams the slot's changes from `from` (0: from the slot's confirmed_flush_lsn).
   * Resolves once the server started streaming; rejects if it refused (the slot is in
   * use, missing, or the publication does not exist).
   */
  start(slot: string, publication: string, from: bigint, handlers: StreamHandlers): Promise<void> {
    const sql =
      `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${lsnText(from)} ` +
      `(proto_version '1', publication_names '${quoteIdent(publication).replaceAll("'", "''")}')`;
    // node-postgres has no API for the copy-both mode: the connection's events are used.
    const connection = (this.client as unknown as { connection: ConnectionInternals }).connection;
    return new Promise((resolve, reject) => {
      let started = false;
      let ended = false;
      const end = (err?: unknown) => {
        if (ended) return;
        ended = true;
        this.streaming = false;
        connection.off('copyData', onData);
        if (!started) {
          reject(
            this.closed
              ? new TributaryError(
                  'POSTGRES_UNAVAILABLE',
                  `the replication connection to ${this.target} was closed`,
                  {
                    target: this.target,
                  },
                )
              : replicationError(err, this.target, `starting replication from slot '${slot}'`),
          );
        } else
          handlers.end(
            err === undefined ? undefined : replicationError(err, this.target, 'streaming changes'),
          );
      };
      const onData = (msg: { chunk: Buffer }) => {
        if (ended) return;
        let m: ReplicationMessage;
        try {
          m = decodeCopyData(msg.chunk);
        } catch (err) {
          end(err);
          return;
        }
        handlers.message(m);
      };
      connection.once('replicationStart', () => {
        started = true;
        this.streaming = true;
        resolve();
      });
      connection.on('copyData', onData);
      this.client.query(sql).then(
        () => end(this.closed ? undefined : new Error('the server ended the replication stream')),
        (err: unknown) => end(this.closed ? undefined : err),
      );
      this.client.once('end', () => end(this.closed ? undefined : new Error('Connection terminated')));
    });
  }

  /** Reports everything up to `lsn` as flushed (see pgoutput.ts standbyStatus). */
  sendStatus(lsn: bigint, replyRequested: boolean): void {
    if (!this.streaming || this.closed) return;
    const connection = (this.client as unknown as { connection: ConnectionInternals }).connection;
    connection.sendCopyFromChunk(standbyStatus(lsn, Date.now(), replyRequested));
  }

  /** Stops reading from the server (TCP flow control holds the walsender back). */
  pause(): void {
    (this.client as unknown as { connection: ConnectionInternals }).connection.stream.pause();
  }

  resume(): void {
    (this.client as unknown as { connection: ConnectionInternals }).connection.stream.resume();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.streaming = false;
    await this.client.end().catch(() => {});
  }
}

interface ConnectionInternals {
  on(event: string, f: (...args: never[]) => void): void;
  once(event: string, f: (...args: never[]) => void): void;
  off(event: string, f: (...args: never[]) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}

/**
 * A replication connection's failure with what to do about it: a role without the
 * REPLICATION attribute, wal_level below logical, no free slot or WAL sender, a slot
 * another process streams from. Anything else as postgresError maps it.
 */
export function replicationError(err: unknown, target: string, what: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as { code?: string; message?: string };
  const text = e?.message ?? String(err);
  const code = e?.code;
  const details = { target, ...(code && { sqlstate: code }) };
  if (code === '42501' && /replication|walsender/i.test(text)) {
    return new TributaryError(
      'CAPTURE_PERMISSION_DENIED',
      `PostgreSQL at ${target} refused a replication connection: ${text} [${code}]. Logical replication needs a role with the REPLICATION attribute: ask an administrator to run ALTER ROLE <user> REPLICATION (or use such a role), or capture with polling instead.`,
      details,
      err,
    );
  }
  if (code === '55000' && /wal_level/i.test(text)) return walLevelError(target, err);
  if (code === '55006' && /active for PID (\d+)/i.test(text)) {
    const pid = Number(/active for PID (\d+)/i.exec(text)![1]);
    return slotInUseError(target, /"([^"]+)"/.exec(text)?.[1] ?? '?', pid, err);
  }
  if (code === '53400') {
    return new TributaryError(
      'CAPTURE_LOGICAL_UNSUPPORTED',
      `PostgreSQL at ${target} has no free replication slot or WAL sender (${what}): ${text} [${code}]. Drop slots nobody uses (SELECT slot_name, active FROM pg_replication_slots; SELECT pg_drop_replication_slot('name')) or raise max_replication_slots / max_wal_senders and restart the server.`,
      details,
      err,
    );
  }
  return postgresError(err, target, what);
}

export function walLevelError(target: string, cause?: unknown): TributaryError {
  return new TributaryError(
    'CAPTURE_LOGICAL_UNSUPPORTED',
    `PostgreSQL at ${target} does not run with wal_level = logical, which logical replication needs. Set it (ALTER SYSTEM SET wal_level = logical, as a superuser) and restart the server — or capture with polling, which needs neither.`,
    { target },
    cause,
  );
}

export function slotInUseError(target: string, slot: string, pid: number, cause?: unknown): TributaryError {
  return new TributaryError(
    'CAPTURE_SLOT_IN_USE',
    `the replication slot '${slot}' on ${target} is in use by another process (PID ${pid}): another capture of this table is running, or a client still streams from the slot. Stop that process (SELECT pid, application_name, client_addr FROM pg_stat_activity WHERE pid = ${pid}; SELECT pg_terminate_backend(${pid}) ends a stuck one), or give this capture its own slot name.`,
    { target, slot, pid },
    cause,
  );
}
