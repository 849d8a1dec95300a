/**
 * The sales generator of seed 004: `sales_event` records in Confluent's Avro wire format,
 * keyed by `account_id`, for topic `sales.events.v1` (docs/saas-sales.md, "Generator").
 *
 * Events. Each record comes from an account picked uniformly among those so far (500 at
 * the start, one more joining as a prospect every 200 records; a churned account picked
 * is re-drawn once with 80 % chance, so reactivations stay rarer than churns) and is its next lifecycle step (accounts.ts): plan tier, seats,
 * event type and amount. `event_time` is the clock less a delivery delay of up to 2 s;
 * `ingest_time` is the clock when the record is made (the producer's send time);
 * `schema_version` is the version written with. Records are written with version 1 of
 * the schema until `useSchema(2, id)`, then with version 2, which adds `discount_code`
 * (on 15 % of charges).
 *
 * Imperfections, each a configurable share of emitted records (one uniform draw picks
 * the kind of each record), each record saying which it is:
 * - duplicate (1 %): one of the last 256 on-time valid records re-sent byte for byte (a
 *   producer's retry: same key, same event_id, same bytes, same schema id); if that one's
 *   event time is more than 60 s behind the clock (slow rates), the newest is re-sent
 *   instead, so a duplicate is never also late;
 * - late (2 %): event time 30 s to 15 minutes behind the clock: beyond a 2-minute
 *   watermark for most, within it for some (ingest_time stays the clock: it arrived now);
 * - invalid (1 %): one of the kinds of invalid.ts, drawn uniformly (or among
 *   `invalidKinds`): a rule of the contract broken in a decodable record, or bytes that
 *   are no record of a registered schema.
 * Late and invalid records still advance their account (the customer did act; the
 * record arrived late or mangled).
 *
 * Deterministic for a seed and a clock: the same options and clock readings give the
 * same bytes.
 */
import avro from 'avsc';
import { frame } from '../../connectors/avro/wire.ts';
import { Rng, uuid4 } from '../../connectors/generators/rng.ts';
import type { Clock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import { type Account, makeAccount, nextStep } from './accounts.ts';
import {
  breakFrame,
  breakRule,
  decimalBytes,
  INVALID_KINDS,
  type InvalidKind,
  isRuleKind,
  type SalesEventValue,
} from './invalid.ts';
import { salesSchemaText } from './schemas.ts';

/** Late records are this far behind the clock (ms, inclusive range). */
export const LATE_BEHIND_MS = [30_000, 900_000] as const;
/** On-time records are at most this far behind the clock (delivery delay, ms). */
export const DELIVERY_DELAY_MAX_MS = 2_000;
/** A duplicate re-sends a record at most this far behind the clock (ms). */
export const DUPLICATE_MAX_BEHIND_MS = 60_000;
export const DISCOUNT_CODES = ['WELCOME10', 'ANNUAL20', 'PARTNER15', 'BLACKFRIDAY'] as const;

export type WrittenVersion = 1 | 2;

export interface SalesGeneratorOptions {
  seed?: number;
  clock: Clock;
  /** The schema written with at first: its version and the id the registry gave it. */
  schema: { version: WrittenVersion; id: number };
  /** Records already in the topic (default 0): mixed into the seed so a second run does not repeat event ids. */
  startEvent?: number;
  /** Accounts at the start (default 500). */
  accounts?: number;
  /** A new account (a prospect) joins every this many records (default 200; the first with the first record). */
  newAccountEvery?: number;
  /** Shares of emitted records (defaults 0.01, 0.02, 0.01). */
  duplicateRate?: number;
  lateRate?: number;
  invalidRate?: number;
  /** The invalid kinds drawn from (default: all of them). */
  invalidKinds?: readonly InvalidKind[];
}

export type SalesRecordKind = 'valid' | 'late' | 'duplicate' | 'invalid';

export interface SalesRecord {
  /** The account_id (the record key). */
  key: string;
  /** The message's bytes (a buffer of its own). */
  value: Buffer;
  kind: SalesRecordKind;
  /** For kind `invalid`: which kind of invalid. */
  invalid: InvalidKind | undefined;
  /** The event the record was made from (an invalid record's too). */
  eventId: string;
  eventTime: number;
  /** The schema version and id the record was framed with (before any breaking change). */
  schemaVersion: WrittenVersion;
  schemaId: number;
}

const types = new Map<WrittenVersion, avro.Type>();

/** The avsc type of a schema version the generator writes. */
export function salesType(version: WrittenVersion): avro.Type {
  let t = types.get(version);
  if (t === undefined) {
    t = avro.Type.forSchema(JSON.parse(salesSchemaText(version)));
    types.set(version, t);
  }
  return t;
}

const RECENT = 256;

export class SalesGenerator {
  private readonly rng: Rng;
  private readonly clock: Clock;
  private readonly seed: number;
  private readonly accounts: Account[] = [];
  private readonly baseAccounts: number;
  private readonly newAccountEvery: number;
  private events: number;
  private readonly invalidKinds: readonly InvalidKind[];
  private readonly tDuplicate: number;
  private readonly tInvalid: number;
  private readonly tLate: number;
  private version: WrittenVersion;
  private id: number;
  private type: avro.Type;
  private readonly recent: SalesRecord[] = [];
  private recentPos = 0;

  constructor(opts: SalesGeneratorOptions) {
    const start = opts.startEvent ?? 0;
    this.rng = new Rng(((opts.seed ?? 1) ^ Math.imul(start, 0x9e3779b1)) | 0);
    this.clock = opts.clock;
    const d = opts.duplicateRate ?? 0.01;
    const l = opts.lateRate ?? 0.02;
    const i = opts.invalidRate ?? 0.01;
    const shares = { duplicateRate: d, lateRate: l, invalidRate: i };
    for (const [option, x] of Object.entries(shares)) {
      if (!(x >= 0 && x <= 1)) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `sales generator: ${option} must be between 0 and 1, got ${x}`,
          {
            option,
          },
        );
      }
    }
    if (d + l + i > 1) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `sales generator: duplicate, late and invalid rates add up to ${Number((d + l + i).toFixed(6))}, more than 1`,
        shares,
      );
    }
    const accounts = opts.accounts ?? 500;
    this.newAccountEvery = opts.newAccountEvery ?? 200;
    for (const [option, x] of Object.entries({ accounts, newAccountEvery: this.newAccountEvery })) {
      if (!Number.isSafeInteger(x) || x < 1) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `sales generator: ${option} must be an integer of at least 1, got ${x}`,
          {
            option,
          },
        );
      }
    }
    this.invalidKinds = opts.invalidKinds ?? INVALID_KINDS;
    if (this.invalidKinds.length === 0 || this.invalidKinds.some((k) => !INVALID_KINDS.includes(k))) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `sales generator: invalidKinds must name kinds among ${INVALID_KINDS.join(', ')}`,
        { option: 'invalidKinds' },
      );
    }
    this.tDuplicate = d;
    this.tInvalid = d + i;
    this.tLate = d + i + l;
    // Accounts come from the seed and their number alone, so a continued run has the same ones.
    this.seed = opts.seed ?? 1;
    this.events = start;
    this.baseAccounts = accounts;
    const joined = start > 0 ? Math.ceil(start / this.newAccountEvery) : 0;
    for (let n = 1; n <= accounts + joined; n++) this.accounts.push(makeAccount(this.seed, n, n > accounts));
    this.version = opts.schema.version;
    this.id = checkId(opts.schema.id);
    this.type = salesType(this.version);
  }

  /** The schema version and id records are written with now. */
  get schema(): { version: WrittenVersion; id: number } {
    return { version: this.version, id: this.id };
  }

  /** Writes the following records with `version`, registered as `id`. */
  useSchema(version: WrittenVersion, id: number): void {
    this.version = version;
    this.id = checkId(id);
    this.type = salesType(version);
  }

  /** Accounts so far (`acct-000001` up to this one). */
  get accountCount(): number {
    return this.accounts.length;
  }

  next(): SalesRecord {
    if (this.events++ % this.newAccountEvery === 0) {
      const n = this.accounts.length + 1;
      this.accounts.push(makeAccount(this.seed, n, n > this.baseAccounts));
    }
    const u = this.rng.float();
    const now = this.clock.now();
    if (u >= this.tLate) return this.remember(this.event(now - this.rng.int(DELIVERY_DELAY_MAX_MS + 1), now));
    if (u < this.tDuplicate) {
      return this.recent.length > 0
        ? this.duplicate(now)
        : this.remember(this.event(now - this.rng.int(DELIVERY_DELAY_MAX_MS + 1), now));
    }
    if (u < this.tInvalid) return this.invalid(now);
    const behind = LATE_BEHIND_MS[0] + this.rng.int(LATE_BEHIND_MS[1] - LATE_BEHIND_MS[0] + 1);
    const r = this.event(now - behind, now);
    r.kind = 'late';
    return r;
  }

  private pickAccount(): Account {
    let a = this.accounts[this.rng.int(this.accounts.length)];
    if (a.status === 'churned' && this.rng.chance(0.8)) a = this.accounts[this.rng.int(this.accounts.length)];
    return a;
  }

  /** The next event of a picked account, as the record's value object. */
  private value(eventTime: number, now: number): SalesEventValue {
    const a = this.pickAccount();
    const s = nextStep(this.rng, a);
    const v: SalesEventValue = {
      event_id: uuid4(this.rng),
      event_time: eventTime,
      ingest_time: now,
      schema_version: this.version,
      account_id: a.id,
      subscription_id: a.subscription,
      plan_tier: s.tier,
      previous_plan_tier: s.previousTier,
      region: a.region,
      event_type: s.eventType,
      billing_period: a.period,
      amount: decimalBytes(BigInt(s.amountCents)),
      currency: a.currency,
      seats: s.seats,
    };
    if (this.version === 2) {
      v.discount_code =
        s.amountCents > 0 && s.eventType !== 'refund' && this.rng.chance(0.15)
          ? this.rng.pick(DISCOUNT_CODES)
          : null;
    }
    return v;
  }

  private event(eventTime: number, now: number): SalesRecord {
    const v = this.value(eventTime, now);
    return this.record(v, this.framed(v), 'valid', undefined);
  }

  private record(v: SalesEventValue, value: Buffer, kind: SalesRecordKind, invalid: InvalidKind | undefined) {
    return {
      key: v.account_id,
      value,
      kind,
      invalid,
      eventId: v.event_id,
      eventTime: v.event_time,
      schemaVersion: this.version,
      schemaId: this.id,
    };
  }

  private remember(r: SalesRecord): SalesRecord {
    if (this.recent.length < RECENT) this.recent.push(r);
    else {
      this.recent[this.recentPos] = r;
      this.recentPos = (this.recentPos + 1) % RECENT;
    }
    return r;
  }

  private duplicate(now: number): SalesRecord {
    let r = this.recent[this.rng.int(this.recent.length)];
    if (r.eventTime < now - DUPLICATE_MAX_BEHIND_MS) {
      r = this.recent[(this.recentPos + this.recent.length - 1) % this.recent.length];
    }
    return { ...r, kind: 'duplicate' };
  }

  private invalid(now: number): SalesRecord {
    const kind = this.rng.pick(this.invalidKinds);
    const v = this.value(now - this.rng.int(DELIVERY_DELAY_MAX_MS + 1), now);
    if (isRuleKind(kind)) {
      breakRule(this.rng, v, kind);
      return this.record(v, this.framed(v), 'invalid', kind);
    }
    return this.record(v, breakFrame(this.rng, this.framed(v), v, kind), 'invalid', kind);
  }

  /** `v` in Confluent's wire format with the current schema id, as a Buffer of its own. */
  private framed(v: SalesEventValue): Buffer {
    const f = frame(this.id, this.type.toBuffer(v));
    return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  }
}

function checkId(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `sales generator: a schema id is an integer from 0 to 2^31 − 1, got ${id}`,
      {
        id,
      },
    );
  }
  return id;
}
