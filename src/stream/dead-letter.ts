/**
 * Dead-letter records: a rejected record's original bytes with where it came from and
 * why it was rejected, as one JSON object per DLQ record. The record key is
 * `<topic>/<partition>/<offset>`, unique per source record.
 */
export interface DeadLetter {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  /** Source record timestamp, ms since the epoch. */
  sourceTimestamp: number;
  contract: string;
  field: string;
  rule: string;
  reason: string;
  /** The original value; null when the record had none. */
  value: Uint8Array | null;
  /** When the DLQ record was written, ms since the epoch. */
  rejectedAt: number;
}

/**
 * The JSON value of a DLQ record. The original bytes travel as `value` (text) when they
 * are UTF-8 and as `value_base64` otherwise, so every byte is kept.
 */
export function encodeDeadLetter(d: DeadLetter): string {
  const buf = d.value === null ? null : Buffer.from(d.value.buffer, d.value.byteOffset, d.value.byteLength);
  const text = buf === null ? null : buf.toString('utf8');
  const exact = buf !== null && Buffer.from(text!, 'utf8').equals(buf);
  return JSON.stringify({
    source_topic: d.sourceTopic,
    source_partition: d.sourcePartition,
    source_offset: d.sourceOffset,
    source_timestamp: d.sourceTimestamp,
    contract: d.contract,
    field: d.field,
    rule: d.rule,
    reason: d.field ? `${d.field}: ${d.reason}` : d.reason,
    value: exact ? text : null,
    ...(buf !== null && !exact ? { value_base64: buf.toString('base64') } : {}),
    rejected_at: d.rejectedAt,
  });
}

export interface DecodedDeadLetter {
  source_topic: string;
  source_partition: number;
  source_offset: number;
  source_timestamp: number;
  contract: string;
  field: string;
  rule: string;
  reason: string;
  value: string | null;
  value_base64?: string;
  rejected_at: number;
}

export function decodeDeadLetter(bytes: Uint8Array): DecodedDeadLetter {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

/** The original bytes of a decoded DLQ record. */
export function originalBytes(d: DecodedDeadLetter): Uint8Array | null {
  if (d.value_base64 !== undefined) return Buffer.from(d.value_base64, 'base64');
  return d.value === null ? null : Buffer.from(d.value, 'utf8');
}
