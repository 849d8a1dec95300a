/**
 * What the sales pipeline must make of the raw topic, computed independently of it:
 * plain JavaScript over the records' bytes, each decoded with avsc by the writer schema
 * its id names (not through the runtime's Avro decoder), with exact money (bigint cents).
 * Tests and the demo compare the pipeline's DLQ, silver and gold with it.
 *
 * Steps, as the pipeline's definition orders them (pipelines/saas.yaml):
 * 1. `classify`: a record is invalid when it has fewer than 5 bytes, its first byte is
 *    not the magic 0, its schema id is not among `schemas`, its body is not exactly one
 *    record of that schema (truncated, corrupt, or bytes after the record), or a value
 *    breaks a rule of the contract (`RULES`: allowed values of the string fields, seats and
 *    amount not negative, the amount within decimal(12,2), a UUID event_id, times within
 *    2000–2100). The first broken rule, in the schema's field order, is the reason.
 * 2. `dedup`: among valid records, the first copy of an event_id by (partition, offset)
 *    wins. The pipeline's dedup keeps keys for a horizon of event time; the oracle keeps
 *    them forever, so it equals the pipeline's when every copy arrives within the
 *    horizon of its first (the generator's copies are at most 60 s behind the clock).
 * 3. Late events: the runtime's rule (docs/runtime.md, "Windows"): the watermark is
 *    null until the first on-time row, then after each batch max(previous, newest event
 *    time among the batch's on-time rows − delay); a row is late when its event time is
 *    before the watermark as it stood before its batch. This depends on where batches were
 *    cut, so it is exact only given them (`lateByBatches`); without them `lateBound`
 *    checks a claimed late set against what any batching allows.
 * 4. Gold (revenue-windows.ts): 5-minute tumbling windows of the on-time events.
 */
import avro from 'avsc';
import { BILLING_PERIODS, CURRENCIES, EVENT_TYPES, MAX_AMOUNT_CENTS, PLAN_TIERS, REGIONS } from './domain.ts';

export interface RawRecord {
  partition: number;
  offset: number;
  value: Uint8Array | null;
}

export type InvalidReason = 'too-short' | 'magic-byte' | 'unknown-schema-id' | 'decode' | 'rule';

export interface InvalidRecord {
  partition: number;
  offset: number;
  reason: InvalidReason;
  /** For `rule`: the field and the rule it broke. */
  field?: string;
  rule?: 'enum' | 'min' | 'max' | 'pattern' | 'not_empty';
  message: string;
}

/** A valid event, as the pipeline's silver holds it. */
export interface OracleEvent {
  partition: number;
  offset: number;
  schemaId: number;
  eventId: string;
  eventTime: number;
  ingestTime: number;
  schemaVersion: number;
  accountId: string;
  subscriptionId: string;
  planTier: string;
  previousPlanTier: string | null;
  region: string;
  eventType: string;
  billingPeriod: string;
  amountCents: bigint;
  currency: string;
  seats: number;
  /** Null when the writer's schema has no such field (version 1). */
  discountCode: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const T_MIN = Date.UTC(2000, 0, 1);
const T_MAX = Date.UTC(2100, 0, 1);

interface Writer {
  type: avro.Type;
  /** The amount's decimal scale (must be 2). */
  scale: number;
}

/** Writer types by id, parsed once per call of `classify`. */
function writers(schemas: ReadonlyMap<number, string>): Map<number, Writer> {
  const out = new Map<number, Writer>();
  for (const [id, text] of schemas) {
    const schema = JSON.parse(text);
    const amount = (schema.fields as Array<{ name: string; type: Record<string, unknown> }>).find(
      (f) => f.name === 'amount',
    );
    const scale = amount?.type?.logicalType === 'decimal' ? Number(amount.type.scale ?? 0) : Number.NaN;
    if (scale !== 2) {
      throw new Error(
        `sales oracle: schema ${id}'s amount is not a decimal of scale 2; the oracle reads no other`,
      );
    }
    out.set(id, { type: avro.Type.forSchema(schema), scale });
  }
  return out;
}

/** Big-endian two's complement → bigint. */
function unscaled(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length > 0 && bytes[0] & 0x80 ? v - (1n << BigInt(8 * bytes.length)) : v;
}

/** Splits the topic's records into invalid ones (with why) and valid events, in input order. */
export function classify(
  records: readonly RawRecord[],
  schemas: ReadonlyMap<number, string>,
): { invalid: InvalidRecord[]; valid: OracleEvent[] } {
  const types = writers(schemas);
  const invalid: InvalidRecord[] = [];
  const valid: OracleEvent[] = [];
  for (const r of records) {
    const bad = (reason: InvalidReason, message: string, more: Partial<InvalidRecord> = {}) =>
      invalid.push({ partition: r.partition, offset: r.offset, reason, message, ...more });
    const v = r.value ?? new Uint8Array(0);
    if (v.length < 5) {
      bad('too-short', `${v.length} bytes: fewer than the 5 of the magic byte and schema id`);
      continue;
    }
    if (v[0] !== 0) {
      bad('magic-byte', `first byte ${v[0]}, not the magic byte 0`);
      continue;
    }
    const id = ((v[1] << 24) | (v[2] << 16) | (v[3] << 8) | v[4]) >>> 0;
    const writer = types.get(id);
    if (writer === undefined) {
      bad('unknown-schema-id', `schema id ${id} is not registered`);
      continue;
    }
    let rec: Record<string, unknown>;
    try {
      rec = writer.type.fromBuffer(Buffer.from(v.buffer, v.byteOffset + 5, v.length - 5));
    } catch (err) {
      bad('decode', `the body is not a record of schema ${id}: ${(err as Error).message}`);
      continue;
    }
    const event: OracleEvent = {
      partition: r.partition,
      offset: r.offset,
      schemaId: id,
      eventId: rec.event_id as string,
      eventTime: rec.event_time as number,
      ingestTime: rec.ingest_time as number,
      schemaVersion: rec.schema_version as number,
      accountId: rec.account_id as string,
      subscriptionId: rec.subscription_id as string,
      planTier: rec.plan_tier as string,
      previousPlanTier: (rec.previous_plan_tier as string | null) ?? null,
      region: rec.region as string,
      eventType: rec.event_type as string,
      billingPeriod: rec.billing_period as string,
      amountCents: unscaled(rec.amount as Uint8Array),
      currency: rec.currency as string,
      seats: rec.seats as number,
      discountCode: (rec.discount_code as string | null | undefined) ?? null,
    };
    const broken = brokenRule(event);
    if (broken) bad('rule', broken.message, { field: broken.field, rule: broken.rule });
    else valid.push(event);
  }
  return { invalid, valid };
}

type Broken = { field: string; rule: NonNullable<InvalidRecord['rule']>; message: string };

/** The first rule of the contract `e` breaks, in the schema's field order; undefined when none. */
export function brokenRule(e: OracleEvent): Broken | undefined {
  const oneOf = (field: string, value: string | null, allowed: readonly string[]): Broken | undefined =>
    value === null || allowed.includes(value)
      ? undefined
      : { field, rule: 'enum', message: `${field} '${value}' is not one of ${allowed.join(', ')}` };
  const within = (field: string, t: number): Broken | undefined =>
    t < T_MIN
      ? { field, rule: 'min', message: `${field} ${t} is before 2000-01-01` }
      : t >= T_MAX
        ? { field, rule: 'max', message: `${field} ${t} is not before 2100-01-01` }
        : undefined;
  return (
    (UUID.test(e.eventId)
      ? undefined
      : { field: 'event_id', rule: 'pattern' as const, message: `event_id '${e.eventId}' is not a UUID` }) ??
    within('event_time', e.eventTime) ??
    within('ingest_time', e.ingestTime) ??
    (e.schemaVersion >= 1
      ? undefined
      : {
          field: 'schema_version',
          rule: 'min' as const,
          message: `schema_version ${e.schemaVersion} < 1`,
        }) ??
    (e.accountId.trim() !== ''
      ? undefined
      : { field: 'account_id', rule: 'not_empty' as const, message: 'account_id is empty' }) ??
    (e.subscriptionId.trim() !== ''
      ? undefined
      : { field: 'subscription_id', rule: 'not_empty' as const, message: 'subscription_id is empty' }) ??
    oneOf('plan_tier', e.planTier, PLAN_TIERS) ??
    oneOf('previous_plan_tier', e.previousPlanTier, PLAN_TIERS) ??
    oneOf('region', e.region, REGIONS) ??
    oneOf('event_type', e.eventType, EVENT_TYPES) ??
    oneOf('billing_period', e.billingPeriod, BILLING_PERIODS) ??
    (e.amountCents < 0n
      ? { field: 'amount', rule: 'min' as const, message: `amount ${e.amountCents} cents is negative` }
      : e.amountCents > MAX_AMOUNT_CENTS
        ? {
            field: 'amount',
            rule: 'max' as const,
            message: `amount ${e.amountCents} cents exceeds decimal(12,2)`,
          }
        : undefined) ??
    oneOf('currency', e.currency, CURRENCIES) ??
    (e.seats >= 0
      ? undefined
      : { field: 'seats', rule: 'min' as const, message: `seats ${e.seats} is negative` })
  );
}

const byPosition = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) =>
  a.partition - b.partition || a.offset - b.offset;

/**
 * The first copy of each event_id by (partition, offset), and the later copies with the
 * position of the copy that won. (A keyed producer puts every copy in one partition.)
 */
export function dedup(valid: readonly OracleEvent[]): {
  events: OracleEvent[];
  duplicates: Array<{ event: OracleEvent; first: { partition: number; offset: number } }>;
} {
  const seen = new Map<string, OracleEvent>();
  const events: OracleEvent[] = [];
  const duplicates: Array<{ event: OracleEvent; first: { partition: number; offset: number } }> = [];
  for (const e of [...valid].sort(byPosition)) {
    const first = seen.get(e.eventId);
    if (first) duplicates.push({ event: e, first: { partition: first.partition, offset: first.offset } });
    else {
      seen.set(e.eventId, e);
      events.push(e);
    }
  }
  return { events, duplicates };
}

/** A batch: for each partition it read, the offset just past its last record (exclusive). */
export type BatchEnd = Readonly<Record<number, number>>;

/**
 * The runtime's late rule over `events` cut into `batches` (in order; a partition a batch
 * did not read keeps its previous end): late and on-time events, the watermark after each
 * batch, and the events past the last batch (`pending`, not yet processed).
 */
export function lateByBatches(
  events: readonly OracleEvent[],
  batches: readonly BatchEnd[],
  delayMs: number,
): { late: OracleEvent[]; onTime: OracleEvent[]; pending: OracleEvent[]; watermarks: Array<number | null> } {
  const ends = batches.reduce<Array<Record<number, number>>>((acc, b) => {
    acc.push({ ...(acc.at(-1) ?? {}), ...b });
    return acc;
  }, []);
  const grouped: OracleEvent[][] = batches.map(() => []);
  const pending: OracleEvent[] = [];
  // Events in (partition, offset) order meet each partition's batch ends in order.
  let partition = -1;
  let b = 0;
  for (const e of [...events].sort(byPosition)) {
    if (e.partition !== partition) {
      partition = e.partition;
      b = 0;
    }
    while (b < ends.length && e.offset >= (ends[b][partition] ?? 0)) b++;
    if (b === ends.length) pending.push(e);
    else grouped[b].push(e);
  }
  let watermark: number | null = null;
  const late: OracleEvent[] = [];
  const onTime: OracleEvent[] = [];
  const watermarks: Array<number | null> = [];
  for (const batch of grouped) {
    let newest = Number.NEGATIVE_INFINITY;
    for (const e of batch) {
      if (watermark !== null && e.eventTime < watermark) late.push(e);
      else {
        onTime.push(e);
        if (e.eventTime > newest) newest = e.eventTime;
      }
    }
    if (newest !== Number.NEGATIVE_INFINITY) {
      watermark = watermark === null ? newest - delayMs : Math.max(watermark, newest - delayMs);
    }
    watermarks.push(watermark);
  }
  return { late, onTime, pending, watermarks };
}

/**
 * What any batching allows of a late set the pipeline reports (by "partition/offset"):
 * an event can be late only if some event that may precede its batch — any event of
 * another partition, or an earlier one of its own — is newer than it by more than the
 * delay. Returns the claimed late events that no batching makes late (none when the
 * claim is possible) and the events that cannot be late under any batching.
 */
export function lateBound(
  events: readonly OracleEvent[],
  late: ReadonlySet<string>,
  delayMs: number,
): { impossible: OracleEvent[]; neverLate: number } {
  const sorted = [...events].sort(byPosition);
  const newestOf = new Map<number, number>();
  for (const e of sorted)
    newestOf.set(e.partition, Math.max(newestOf.get(e.partition) ?? -Infinity, e.eventTime));
  const impossible: OracleEvent[] = [];
  let neverLate = 0;
  let partition = -1;
  let before = Number.NEGATIVE_INFINITY;
  for (const e of sorted) {
    if (e.partition !== partition) {
      partition = e.partition;
      before = Number.NEGATIVE_INFINITY;
    }
    let others = Number.NEGATIVE_INFINITY;
    for (const [p, t] of newestOf) if (p !== e.partition && t > others) others = t;
    const canBeLate = e.eventTime < Math.max(before, others) - delayMs;
    if (!canBeLate) neverLate++;
    if (!canBeLate && late.has(`${e.partition}/${e.offset}`)) impossible.push(e);
    if (e.eventTime > before) before = e.eventTime;
  }
  return { impossible, neverLate };
}
