/**
 * Shared by the Avro tests: a small in-memory schema registry (the runtime's logic is
 * under test, not a registry's), batches of framed records as the log hands them over,
 * and the sales event schema of seed 004 in two versions.
 */
import avro from 'avsc';
import type { RegisteredSchema, SchemaRegistryClient } from '../../../src/connectors/avro/registry-client.ts';
import { frame } from '../../../src/connectors/avro/wire.ts';
import { TributaryError } from '../../../src/core/errors.ts';
import type { ValueBatch } from '../../../src/log/log.ts';

export class MemoryRegistry implements SchemaRegistryClient {
  readonly schemas = new Map<number, string>();
  readonly subjects = new Map<string, number[]>();
  /** Lookups by id, counted (the decoder must cache). */
  lookups = 0;
  readonly lookupsOf = new Map<number, number>();
  /** When set, every call fails as an unreachable registry does. */
  down = false;
  private next = 1;

  private check(): void {
    if (this.down) throw new TributaryError('REGISTRY_UNAVAILABLE', 'the registry is down (test)');
  }

  async schemaById(id: number): Promise<string> {
    this.check();
    this.lookups++;
    this.lookupsOf.set(id, (this.lookupsOf.get(id) ?? 0) + 1);
    const s = this.schemas.get(id);
    if (s === undefined) throw new TributaryError('SCHEMA_NOT_FOUND', `no schema ${id}`);
    return s;
  }

  async register(subject: string, schema: string): Promise<number> {
    this.check();
    for (const [id, s] of this.schemas) if (s === schema) return this.addVersion(subject, id);
    const id = this.next++;
    this.schemas.set(id, schema);
    return this.addVersion(subject, id);
  }

  private addVersion(subject: string, id: number): number {
    const versions = this.subjects.get(subject) ?? [];
    if (!versions.includes(id)) versions.push(id);
    this.subjects.set(subject, versions);
    return id;
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    this.check();
    const versions = this.subjects.get(subject);
    if (!versions || versions.length === 0) return undefined;
    const id = versions[versions.length - 1];
    return { id, version: versions.length, schema: this.schemas.get(id)! };
  }
}

/** Values as one partition's fetched batch (each value followed by a newline, as the log does). */
export function valueBatch(
  values: ReadonlyArray<Uint8Array | null>,
  opts: { partition?: number; first?: number; timestamp?: number } = {},
): ValueBatch {
  const first = opts.first ?? 0;
  const parts: Buffer[] = [];
  const ends = new Uint32Array(values.length);
  let pos = 0;
  values.forEach((v, i) => {
    const b = v === null ? Buffer.alloc(0) : Buffer.from(v);
    parts.push(b, Buffer.from('\n'));
    pos += b.length;
    ends[i] = pos;
    pos += 1;
  });
  return {
    topic: 't',
    partition: opts.partition ?? 0,
    count: values.length,
    values: Buffer.concat(parts),
    offsets: Float64Array.from(values, (_, i) => first + i),
    timestamps: Float64Array.from(values, (_, i) => (opts.timestamp ?? 1_769_515_200_000) + i),
    ends,
    nextOffset: first + values.length,
    highWatermark: first + values.length,
  };
}

export const SALES_V1 = {
  type: 'record',
  name: 'sales_event',
  namespace: 'com.example.sales',
  fields: [
    { name: 'event_id', type: 'string' },
    { name: 'event_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'ingest_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'schema_version', type: 'int' },
    { name: 'account_id', type: 'string' },
    {
      name: 'plan_tier',
      type: { type: 'enum', name: 'plan_tier', symbols: ['free', 'starter', 'pro', 'enterprise'] },
    },
    { name: 'region', type: 'string' },
    {
      name: 'event_type',
      type: {
        type: 'enum',
        name: 'event_type',
        symbols: ['trial_started', 'subscription_created', 'upgrade', 'downgrade', 'churn', 'invoice_paid'],
      },
    },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } },
    { name: 'currency', type: 'string' },
  ],
};

/** v2: adds an optional field with a default (a backward-compatible change). */
export const SALES_V2 = {
  ...SALES_V1,
  fields: [...SALES_V1.fields, { name: 'coupon_code', type: ['null', 'string'], default: null }],
};

/** The avsc type of a schema, with logical types read as their underlying values. */
export function avroType(schema: object): avro.Type {
  return avro.Type.forSchema(
    schema as avro.Schema,
    { wrapUnions: 'never' } as Partial<avro.ForSchemaOptions>,
  );
}

/** Decimal bytes (big-endian two's complement) of an unscaled value. */
export function decimalBytes(unscaled: bigint): Buffer {
  let hex = BigInt.asUintN(128, unscaled).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, 'hex');
  // Shortest form keeping the sign.
  const neg = unscaled < 0n;
  while (b.length > 1 && (neg ? b[0] === 0xff && b[1] & 0x80 : b[0] === 0 && !(b[1] & 0x80)))
    b = b.subarray(1);
  if (unscaled >= 0n && b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return b;
}

export function framed(type: avro.Type, id: number, value: unknown): Uint8Array {
  return frame(id, type.toBuffer(value));
}
