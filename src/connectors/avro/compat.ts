/**
 * Avro schema compatibility, as a schema registry decides it: BACKWARD means the new
 * schema can read data written with an earlier one, FORWARD that an earlier schema can
 * read data written with the new one, FULL both; the `_TRANSITIVE` forms check every
 * earlier version instead of only the latest. Decided with Avro schema resolution
 * (avsc's resolver).
 */
import avro from 'avsc';

export type CompatibilityMode =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

export const COMPATIBILITY_MODES: readonly CompatibilityMode[] = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
];

export interface CompatibilityResult {
  compatible: boolean;
  /** Why not, one message per problem, each naming the field (path) and the reason. */
  messages: string[];
}

/**
 * Whether `schema` (Avro JSON text) may follow `previous` (earlier versions' texts,
 * oldest first) under `mode`. Both are valid schemas (parse them first).
 */
export function checkCompatibility(
  mode: CompatibilityMode,
  schema: string,
  previous: readonly string[],
): CompatibilityResult {
  if (mode === 'NONE' || previous.length === 0) return { compatible: true, messages: [] };
  const against = mode.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const next = avro.Type.forSchema(JSON.parse(schema));
  const messages: string[] = [];
  for (const text of against) {
    const old = avro.Type.forSchema(JSON.parse(text));
    if (mode.startsWith('BACKWARD') || mode.startsWith('FULL')) canRead(next, old, 'new', messages);
    if (mode.startsWith('FORWARD') || mode.startsWith('FULL')) canRead(old, next, 'earlier', messages);
  }
  return { compatible: messages.length === 0, messages };
}

function canRead(reader: avro.Type, writer: avro.Type, readerName: string, messages: string[]): void {
  try {
    reader.createResolver(writer);
  } catch (err) {
    messages.push(
      `the ${readerName} schema cannot read data written with the other: ${(err as Error).message}`,
    );
  }
}
