/**
 * Confluent's wire format for a record value (or key) in Avro: byte 0x00 (the "magic"
 * byte), the schema's global id in the registry as 4 bytes big-endian, then the Avro
 * binary body written with that schema. Confluent's serializers and deserializers, in
 * every language, frame records this way; Protobuf and JSON Schema add more after the id,
 * which an Avro reader does not expect.
 */

export const MAGIC_BYTE = 0;
/** Magic byte + schema id. */
export const HEADER_SIZE = 5;

/** Frames an Avro binary body written with schema `id`. */
export function frame(id: number, body: Uint8Array): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new RangeError(`schema id ${id} does not fit the wire format's 4 bytes (0 to 4294967295)`);
  }
  const out = new Uint8Array(HEADER_SIZE + body.length);
  out[0] = MAGIC_BYTE;
  new DataView(out.buffer).setUint32(1, id, false);
  out.set(body, HEADER_SIZE);
  return out;
}

/** A framed record's schema id and where its body starts (`bytes[HEADER_SIZE]`). */
export interface Framed {
  id: number;
  /** The body: `bytes.subarray(HEADER_SIZE)`. */
  body: Uint8Array;
}

/** Why a record is not in the wire format, for the dead-letter queue. */
export interface FramingError {
  error: string;
}

/**
 * The schema id and body of a framed record, or why it is not one: no value, fewer
 * than 5 bytes, or a first byte other than 0 (a JSON text, a record framed for another
 * format, or plain Avro without a header).
 */
export function unframe(bytes: Uint8Array | null): Framed | FramingError {
  const why = framingError(bytes, 0, bytes?.length ?? 0);
  if (why !== undefined) return { error: why };
  return { id: schemaIdAt(bytes!, 0), body: bytes!.subarray(HEADER_SIZE) };
}

/** The schema id of the framed record at `start` (its header checked already). */
export function schemaIdAt(bytes: Uint8Array, start: number): number {
  return (
    bytes[start + 1] * 0x1000000 + ((bytes[start + 2] << 16) | (bytes[start + 3] << 8) | bytes[start + 4])
  );
}

/** Why the record in `bytes[start, end)` is not framed, or undefined when its header is sound. */
export function framingError(bytes: Uint8Array | null, start: number, end: number): string | undefined {
  const length = end - start;
  if (bytes === null || length === 0)
    return 'empty record (no value): expected the Avro wire format (byte 0, a 4-byte schema id, the body)';
  if (bytes[start] !== MAGIC_BYTE) {
    const b = bytes[start];
    const hint =
      b === 0x7b || b === 0x5b
        ? ' (it looks like JSON text)'
        : ' (not a record framed by a Confluent Avro serializer)';
    return `first byte is 0x${b.toString(16).padStart(2, '0')}, expected the magic byte 0x00 of the Avro wire format${hint}`;
  }
  if (length < HEADER_SIZE) {
    return `record of ${length} byte${length === 1 ? '' : 's'} is too short for the wire format's header (byte 0 and a 4-byte schema id)`;
  }
  return undefined;
}
