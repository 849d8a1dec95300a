/**
 * Confluent's wire format for the generator's records: byte 0x00, the schema id as 4
 * bytes big-endian, then the Avro binary body. A private helper until the Avro
 * connector's wire.ts is merged; the oracle parses frames on its own.
 */

export const MAGIC_BYTE = 0;
export const FRAME_HEADER_BYTES = 5;

/** A fresh buffer: magic byte, `id`, `body`. */
export function frame(id: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(id, 1);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}
