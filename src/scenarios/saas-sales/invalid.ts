/**
 * Invalid sales messages, each made from a valid event by one seeded change, in two
 * families a pipeline must tell apart:
 *
 * - rule kinds: a well-formed Avro record of a registered schema whose values break a
 *   rule of the contract (domain.ts): a negative seat count or amount, a region, plan
 *   tier, event type or currency outside its list. Every Avro reader decodes them; only
 *   the contract catches them.
 * - frame kinds: bytes that are no record of a registered schema: a first byte that is
 *   not the magic 0 (the frame of another format version, or the event as JSON text from
 *   a producer without the Avro serializer), a schema id no registry has handed out
 *   (0x7fff0000 and up: Confluent's ids count up from 1), a body cut short (Avro binary
 *   has no padding: a strict prefix of a record never decodes), or fewer bytes than the
 *   5-byte header.
 *
 * A body with bytes after its record is not made: Confluent's deserializers ignore them
 * while a strict decoder refuses them, so it would not be one kind.
 */

import { HEADER_SIZE } from '../../connectors/avro/wire.ts';
import type { Rng } from '../../connectors/generators/rng.ts';
import { centsText } from './domain.ts';

export const RULE_KINDS = [
  'negative-seats',
  'negative-amount',
  'unknown-region',
  'unknown-plan-tier',
  'unknown-event-type',
  'unknown-currency',
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export const FRAME_KINDS = ['wrong-magic-byte', 'unknown-schema-id', 'truncated', 'too-short'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

export const INVALID_KINDS = [...RULE_KINDS, ...FRAME_KINDS] as const;
export type InvalidKind = RuleKind | FrameKind;

export function isRuleKind(kind: InvalidKind): kind is RuleKind {
  return (RULE_KINDS as readonly string[]).includes(kind);
}

/** Schema ids of unknown-schema-id records are at least this (and at most 2^31 − 1). */
export const UNKNOWN_SCHEMA_ID_BASE = 0x7fff0000;

/** The record as avsc encodes it (amount: the decimal's two's-complement bytes). */
export interface SalesEventValue {
  event_id: string;
  event_time: number;
  ingest_time: number;
  schema_version: number;
  account_id: string;
  subscription_id: string;
  plan_tier: string;
  previous_plan_tier: string | null;
  region: string;
  event_type: string;
  billing_period: string;
  amount: Buffer;
  currency: string;
  seats: number;
  discount_code?: string | null;
}

/** An Avro decimal's bytes: the unscaled value in big-endian two's complement, shortest form (as Java's BigInteger.toByteArray). */
export function decimalBytes(unscaled: bigint): Buffer {
  const bytes: number[] = [];
  let v = unscaled;
  for (;;) {
    const b = Number(v & 0xffn);
    bytes.push(b);
    v >>= 8n;
    if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) break;
  }
  return Buffer.from(bytes.reverse());
}

/** Changes `event` so it breaks the rule of `kind`; returns the field changed. */
export function breakRule(rng: Rng, event: SalesEventValue, kind: RuleKind): keyof SalesEventValue {
  switch (kind) {
    case 'negative-seats':
      event.seats = -(1 + rng.int(50));
      return 'seats';
    case 'negative-amount':
      event.amount = decimalBytes(-BigInt(1 + rng.int(1_000_000)));
      return 'amount';
    case 'unknown-region':
      event.region = rng.pick(['eu-west', 'EMEA', 'NA ', 'mars', '', 'us']);
      return 'region';
    case 'unknown-plan-tier':
      event.plan_tier = rng.pick(['platinum', 'Pro', 'team', '', 'trial']);
      return 'plan_tier';
    case 'unknown-event-type':
      event.event_type = rng.pick(['purchase', 'cancelled', 'Renewal', '', 'upsell']);
      return 'event_type';
    default:
      event.currency = rng.pick(['usd', 'US$', 'EURO', '', 'XXX']);
      return 'currency';
  }
}

/**
 * The bytes of an invalid message of frame kind `kind`, from the valid frame `framed`
 * of `event` (a fresh buffer; `framed` is not changed).
 */
export function breakFrame(rng: Rng, framed: Buffer, event: SalesEventValue, kind: FrameKind): Buffer {
  switch (kind) {
    case 'wrong-magic-byte': {
      if (rng.chance(0.5)) {
        const out = Buffer.from(framed);
        out[0] = 1 + rng.int(255);
        return out;
      }
      const json = { ...event, amount: centsText(unscaledOf(event.amount)) };
      return Buffer.from(JSON.stringify(json));
    }
    case 'unknown-schema-id': {
      const out = Buffer.from(framed);
      out.writeUInt32BE(UNKNOWN_SCHEMA_ID_BASE + rng.int(0xffff), 1);
      return out;
    }
    case 'truncated':
      return Buffer.from(framed.subarray(0, HEADER_SIZE + rng.int(framed.length - HEADER_SIZE)));
    default:
      return Buffer.from(framed.subarray(0, 1 + rng.int(HEADER_SIZE - 1)));
  }
}

function unscaledOf(bytes: Buffer): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length > 0 && bytes[0] & 0x80 ? v - (1n << BigInt(8 * bytes.length)) : v;
}
