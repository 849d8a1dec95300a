/**
 * The streaming replication protocol's CopyData messages and the `pgoutput` plugin's
 * logical replication messages (protocol version 1), decoded into column values as
 * PostgreSQL's text output — what change.ts needs (text + type OID), which the
 * pg-logical-replication package does not give: it runs node-postgres' global type
 * parsers on every value (a timestamptz becomes a JavaScript Date, losing microseconds
 * and the text) and keys tuples by column name.
 *
 * Formats, from PostgreSQL's "Streaming Replication Protocol" and "Logical Replication
 * Message Formats" pages (all integers big-endian, LSNs and times Int64):
 *
 *   XLogData            'w' walStart walEnd sendTime <pgoutput message>
 *   Primary keepalive   'k' walEnd sendTime replyRequested:Int8
 *   Standby status      'r' written flushed applied clientTime replyRequested:Int8
 *                       (LSNs are "last WAL byte + 1": the position up to which
 *                       everything is done; times are microseconds since 2000-01-01)
 *
 *   Begin     'B' finalLsn commitTime xid:Int32
 *   Commit    'C' flags:Int8 commitLsn endLsn commitTime
 *   Origin    'O' lsn name:String
 *   Relation  'R' oid:Int32 namespace:String name:String replicaIdentity:Int8
 *                 ncols:Int16 { flags:Int8 (1 = key) name:String typeOid:Int32 typmod:Int32 }
 *   Type      'Y' oid:Int32 namespace:String name:String
 *   Insert    'I' oid:Int32 'N' TupleData
 *   Update    'U' oid:Int32 [('K' | 'O') TupleData] 'N' TupleData
 *   Delete    'D' oid:Int32 ('K' | 'O') TupleData
 *   Truncate  'T' nrels:Int32 options:Int8 { oid:Int32 }
 *   Message   'M' flags:Int8 lsn prefix:String length:Int32 bytes
 *   TupleData ncols:Int16 { 'n' (null) | 'u' (unchanged TOASTed value, not sent)
 *                           | 't' length:Int32 text | 'b' length:Int32 binary }
 *
 * 'O' carries the whole old row (REPLICA IDENTITY FULL), 'K' only the identity's
 * columns; an update that changes no identity column and has no FULL identity sends
 * neither.
 */

/** A column value: text, null, or `undefined` for an unchanged TOASTed value the server did not send. */
export type TupleValue = string | null | undefined;

export interface RelationColumn {
  name: string;
  typeOid: number;
  typmod: number;
  /** Part of the replica identity (every column with REPLICA IDENTITY FULL). */
  key: boolean;
}

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: number; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTime: number }
  | { tag: 'origin'; lsn: bigint; name: string }
  | {
      tag: 'relation';
      oid: number;
      schema: string;
      name: string;
      replicaIdentity: ReplicaIdentity;
      columns: RelationColumn[];
    }
  | { tag: 'type'; oid: number; schema: string; name: string }
  | { tag: 'insert'; oid: number; after: TupleValue[] }
  | { tag: 'update'; oid: number; before: TupleValue[] | null; keyOnly: boolean; after: TupleValue[] }
  | { tag: 'delete'; oid: number; before: TupleValue[]; keyOnly: boolean }
  | { tag: 'truncate'; oids: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'message'; transactional: boolean; lsn: bigint; prefix: string; content: Uint8Array };

/** Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_US = 946_684_800_000_000n;

/** PostgreSQL's timestamp (µs since 2000-01-01) as ms since the Unix epoch. */
export function pgTimeToMs(us: bigint): number {
  return Number((us + PG_EPOCH_US) / 1000n);
}

class Reader {
  readonly buf: Buffer;
  pos: number;
  constructor(buf: Buffer, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new Error(`pgoutput message ends early (needs ${n} bytes at ${this.pos} of ${this.buf.length})`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new Error('pgoutput message ends inside a string');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

const IDENTITY: Record<string, ReplicaIdentity> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

function tuple(r: Reader): TupleValue[] {
  const n = r.i16();
  const values: TupleValue[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind === 0x74 /* t */) {
      const len = r.i32();
      r.need(len);
      values[i] = r.buf.toString('utf8', r.pos, r.pos + len);
      r.pos += len;
    } else if (kind === 0x6e /* n */) {
      values[i] = null;
    } else if (kind === 0x75 /* u */) {
      values[i] = undefined;
    } else if (kind === 0x62 /* b */) {
      throw new Error('pgoutput sent a binary value; the capture asks for text (no binary option)');
    } else {
      throw new Error(`unknown pgoutput tuple value kind ${kind}`);
    }
  }
  return values;
}

/** One pgoutput message (the payload of an XLogData). */
export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const tag = r.u8();
  switch (tag) {
    case 0x42 /* B */:
      {
        const finalLsn = r.u64();
        const commitTime = pgTimeToMs(r.i64());
        return { tag: 'begin', finalLsn, commitTime, xid: r.u32() };
      }
    case 0x43 /* C */:
      {
        r.u8();
        const commitLsn = r.u64();
        const endLsn = r.u64();
        return { tag: 'commit', commitLsn, endLsn, commitTime: pgTimeToMs(r.i64()) };
      }
    case 0x4f /* O */:
      {
        const lsn = r.u64();
        return { tag: 'origin', lsn, name: r.str() };
      }
    case 0x52 /* R */:
      {
        const oid = r.u32();
        const schema = r.str();
        const name = r.str();
        const ident = String.fromCharCode(r.u8());
        const replicaIdentity = IDENTITY[ident];
        if (replicaIdentity === undefined) throw new Error(`unknown replica identity '${ident}'`);
        const n = r.i16();
        const columns: RelationColumn[] = [];
        for (let i = 0; i < n; i++) {
          const flags = r.u8();
          const colName = r.str();
          const typeOid = r.u32();
          columns.push({ name: colName, typeOid, typmod: r.i32(), key: (flags & 1) === 1 });
        }
        // An empty namespace is pg_catalog.
        return {
          tag: 'relation',
          oid,
          schema: schema === '' ? 'pg_catalog' : schema,
          name,
          replicaIdentity,
          columns,
        };
      }
    case 0x59 /* Y */:
      {
        const oid = r.u32();
        const schema = r.str();
        return { tag: 'type', oid, schema, name: r.str() };
      }
    case 0x49 /* I */:
      {
        const oid = r.u32();
        const n = r.u8();
        if (n !== 0x4e) throw new Error(`pgoutput insert without a new tuple (got ${n})`);
        return { tag: 'insert', oid, after: tuple(r) };
      }
    case 0x55 /* U */:
      {
        const oid = r.u32();
        let kind = r.u8();
        let before: TupleValue[] | null = null;
        let keyOnly = false;
        if (kind === 0x4b /* K */ || kind === 0x4f /* O */) {
          keyOnly = kind === 0x4b;
          before = tuple(r);
          kind = r.u8();
        }
        if (kind !== 0x4e) throw new Error(`pgoutput update without a new tuple (got ${kind})`);
        return { tag: 'update', oid, before, keyOnly, after: tuple(r) };
      }
    case 0x44 /* D */:
      {
        const oid = r.u32();
        const kind = r.u8();
        if (kind !== 0x4b && kind !== 0x4f)
          throw new Error(`pgoutput delete without an old tuple (got ${kind})`);
        return { tag: 'delete', oid, before: tuple(r), keyOnly: kind === 0x4b };
      }
    case 0x54 /* T */:
      {
        const n = r.i32();
        const flags = r.u8();
        const oids: number[] = [];
        for (let i = 0; i < n; i++) oids.push(r.u32());
        return { tag: 'truncate', oids, cascade: (flags & 1) !== 0, restartIdentity: (flags & 2) !== 0 };
      }
    case 0x4d /* M */:
      {
        const flags = r.u8();
        const lsn = r.u64();
        const prefix = r.str();
        const len = r.i32();
        return { tag: 'message', transactional: (flags & 1) !== 0, lsn, prefix, content: r.bytes(len) };
      }
    default:
      throw new Error(`unknown pgoutput message '${String.fromCharCode(tag)}' (${tag})`);
  }
}

/** A CopyData message of a replication stream. */
export type ReplicationMessage =
  | { kind: 'xlog'; walStart: bigint; walEnd: bigint; data: Buffer }
  | { kind: 'keepalive'; walEnd: bigint; sendTime: number; replyRequested: boolean };

export function decodeCopyData(chunk: Buffer): ReplicationMessage {
  const r = new Reader(chunk);
  const tag = r.u8();
  if (tag === 0x77 /* w */) {
    const walStart = r.u64();
    const walEnd = r.u64();
    r.i64();
    return { kind: 'xlog', walStart, walEnd, data: chunk.subarray(25) };
  }
  if (tag === 0x6b /* k */) {
    const walEnd = r.u64();
    const sendTime = pgTimeToMs(r.i64());
    return { kind: 'keepalive', walEnd, sendTime, replyRequested: r.u8() === 1 };
  }
  throw new Error(`unknown replication message '${String.fromCharCode(tag)}' (${tag})`);
}

/**
 * A standby status update reporting everything up to `lsn` written, flushed and applied
 * (the slot's confirmed_flush_lsn becomes `lsn`: transactions whose commit record starts
 * before it are not sent again). `replyRequested` asks the server for a keepalive at once.
 */
export function standbyStatus(lsn: bigint, nowMs: number, replyRequested: boolean): Buffer {
  const b = Buffer.alloc(34);
  b[0] = 0x72; // r
  b.writeBigUInt64BE(lsn, 1);
  b.writeBigUInt64BE(lsn, 9);
  b.writeBigUInt64BE(lsn, 17);
  b.writeBigInt64BE(BigInt(Math.round(nowMs * 1000)) - PG_EPOCH_US, 25);
  b[33] = replyRequested ? 1 : 0;
  return b;
}
