/**
 * Kafka's default key partitioner, so that a topic keeps its key-to-partition mapping
 * when it moves between the embedded log and Kafka.
 *
 * Kafka (`org.apache.kafka.common.utils.Utils.murmur2`, used by the Java producer's
 * `BuiltInPartitioner.partitionForKey`) hashes the key bytes with MurmurHash2 (32-bit,
 * seed 0x9747b28c), clears the sign bit (`toPositive`, i.e. `x & 0x7fffffff`, not
 * `Math.abs`) and takes the remainder by the partition count.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** MurmurHash2 of `data` as Kafka computes it, returned as a signed 32-bit integer (like Java's `int`). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  // Kafka reads each 4-byte chunk little-endian.
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The 1-3 trailing bytes fold in highest first, then one multiply (Java's switch
  // fall-through, written out).
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2] << 16;
  if (tail >= 2) h ^= data[whole + 1] << 8;
  if (tail >= 1) {
    h ^= data[whole];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: drop the sign bit rather than negate, so -2^31 maps to 0. */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for `key` in a topic of `partitions` partitions. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return toPositive(murmur2(key)) % partitions;
}
