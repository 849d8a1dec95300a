/**
 * The markers of idempotency keys in the keys topic (`_tributary_ingest_keys`), and the
 * rule that decides, from the topic's order alone, which claim on a key holds it. Every
 * server reading the topic applies the same rule to the same markers in the same order,
 * so all agree on who writes a key's records, without talking to each other.
 *
 * - `pending` is a claim: the first `pending` of a key in the topic holds the key.
 *   A later `pending` of the same request takes the key over when it names the claim
 *   holding the key as the one it `replaces` (its maker saw that claim's owner gone: a
 *   process of its own host that ended, or an attempt of its own process that failed),
 *   or when it was made at least a lease after that claim (an owner on another host is
 *   taken for dead then); otherwise it lost and changes nothing. Of two takeovers of one
 *   claim the first in the topic wins: the second names a claim no longer holding.
 * - `done` ends the key: it holds the answer, which every later request with the key
 *   gets.
 *
 * A takeover keeps the first claim's `at` and `starts`: what any earlier holder wrote is
 * after those offsets, so the new holder finds it (by the records' headers) and writes
 * only what is missing.
 */
import { createHash } from 'node:crypto';

export const KEYS_TOPIC = '_tributary_ingest_keys';
export const KEY_HEADER = 'tributary-idempotency-key';
export const INDEX_HEADER = 'tributary-ingest-index';
export const DEFAULT_KEY_TTL_MS = 24 * 3600_000;
/** How long a claim holds a key before another request may take it over (its holder taken for dead). */
export const DEFAULT_CLAIM_LEASE_MS = 60_000;

export interface PartitionSummary {
  partition: number;
  records: number;
  firstOffset: number;
  lastOffset: number;
}

/** The answer to an ingest request. */
export interface IngestResult {
  topic: string;
  records: number;
  partitions: PartitionSummary[];
}

export interface KeyMarker {
  /** The key's digest. */
  id: string;
  /** The request's digest (topic, form, body). */
  hash: string;
  topic: string;
  /** When the key was first used (ms). */
  at: number;
  state: 'pending' | 'done';
  /** pending: each partition's end offset before the first claim's records were produced. */
  starts?: number[];
  /** pending: this claim's own id (markers written before claims had ids have none). */
  claim?: string;
  /** pending: when this claim was made (ms, by the claiming server's clock; default `at`). */
  claimedAt?: number;
  /** pending: the process that made the claim. */
  owner?: { host: string; pid: number; start: string };
  /** pending: the claim this one takes over (`''` for a claim without an id). */
  replaces?: string;
  /** done: the answer. */
  result?: IngestResult;
}

export const claimedAt = (m: KeyMarker): number => m.claimedAt ?? m.at;

/**
 * What the key is after `marker`, given what it was (`current`, undefined when unknown
 * or expired): the rule above.
 */
export function applyMarker(current: KeyMarker | undefined, marker: KeyMarker, leaseMs: number): KeyMarker {
  if (marker.state === 'done' || current === undefined) return marker;
  if (current.state === 'done') return current;
  const sameRequest = marker.hash === current.hash && marker.topic === current.topic;
  const named = marker.replaces !== undefined && marker.replaces === (current.claim ?? '');
  if (sameRequest && (named || claimedAt(marker) >= claimedAt(current) + leaseMs)) {
    return { ...current, claim: marker.claim, claimedAt: claimedAt(marker), owner: marker.owner };
  }
  return current;
}

/** Where each record went, by its position in the request. */
export function summarize(
  topic: string,
  placed: ReadonlyArray<{ partition: number; offset: number }>,
): IngestResult {
  const by = new Map<number, PartitionSummary>();
  for (const { partition, offset } of placed) {
    const s = by.get(partition);
    if (!s) by.set(partition, { partition, records: 1, firstOffset: offset, lastOffset: offset });
    else {
      s.records++;
      if (offset < s.firstOffset) s.firstOffset = offset;
      if (offset > s.lastOffset) s.lastOffset = offset;
    }
  }
  return {
    topic,
    records: placed.length,
    partitions: [...by.values()].sort((a, b) => a.partition - b.partition),
  };
}

const sha256 = (...parts: Array<string | Uint8Array>) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\n');
  return h.digest('hex');
};

/** A key's identity: the caller's subject and the key. */
export function keyId(subject: string, key: string): string {
  return sha256(subject, key).slice(0, 32);
}

/** A request's identity: what it asks to write. */
export function requestHash(topic: string, form: string, body: Uint8Array): string {
  return sha256(topic, form, body);
}

const decoder = new TextDecoder();

/** A marker from a record of the keys topic, or undefined for anything else. */
export function parseMarker(value: Uint8Array | null): KeyMarker | undefined {
  if (value === null) return undefined;
  try {
    const m = JSON.parse(decoder.decode(value)) as KeyMarker;
    if (typeof m.id === 'string' && typeof m.hash === 'string' && typeof m.at === 'number') return m;
  } catch {
    // Not a marker of ours: ignored.
  }
  return undefined;
}
