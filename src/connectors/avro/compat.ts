/**
 * Avro schema compatibility, as a schema registry decides it: BACKWARD means the new
 * schema can read data written with an earlier one, FORWARD that an earlier schema can
 * read data written with the new one, FULL both; the `_TRANSITIVE` forms check every
 * earlier version instead of only the latest.
 *
 * Decided with Avro schema resolution as the specification states it, avsc's resolver
 * being the engine, with two settings where avsc departs from the specification:
 * - names of records, enums and fixed compare unqualified (avsc compares full names
 *   unless told `ignoreNamespaces`); Avro Java and Confluent's registry do the same;
 * - two decimals match only with equal precision and scale (compat-decimal.ts), a rule
 *   of the specification that avsc, Avro Java and Confluent's registry leave out.
 * Everything else is avsc's resolver unchanged, which agrees with Avro Java's
 * SchemaCompatibility (what Confluent's registry runs): promotions int → long → float →
 * double and string ↔ bytes; every branch of a writer's union must be readable; an
 * enum reads unknown symbols only through its default; fields and named types match
 * through the reader's aliases. docs/registry.md ("Compatibility") lists the decisions.
 *
 * The messages come from compat-explain.ts, a walk that names the field and the reason;
 * it explains the resolver's refusal and never decides on its own.
 */
import type avro from 'avsc';
import { ResolvingDecimal } from './compat-decimal.ts';
import { canResolve, explainResolution, type ReadSide } from './compat-explain.ts';
import { parseSchema } from './schema.ts';

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
  /**
   * Why not, one message per problem, each naming the field (path like
   * `sales_event.amount`), the reason and the earlier version (1-based position in
   * `previous`) it conflicts with.
   */
  messages: string[];
}

/**
 * Whether `schema` (Avro JSON text) may follow `previous` (earlier versions' texts,
 * oldest first) under `mode`. Throws TributaryError SCHEMA_INVALID when a text is not
 * a valid schema. Transitive modes check the versions newest first, as Confluent's
 * registry does, and report every one that conflicts.
 */
export function checkCompatibility(
  mode: CompatibilityMode,
  schema: string,
  previous: readonly string[],
): CompatibilityResult {
  if (mode === 'NONE' || previous.length === 0) return { compatible: true, messages: [] };
  const last = previous.length - 1;
  const versions = mode.endsWith('_TRANSITIVE') ? previous.map((_, i) => last - i) : [last];
  const next = resolvingType(schema);
  const messages: string[] = [];
  for (const i of versions) {
    const old = resolvingType(previous[i]!);
    const version = i + 1;
    if (mode.startsWith('BACKWARD') || mode.startsWith('FULL')) {
      messages.push(...readProblems(next, old, { direction: 'backward', version }));
    }
    if (mode.startsWith('FORWARD') || mode.startsWith('FULL')) {
      messages.push(...readProblems(old, next, { direction: 'forward', version }));
    }
  }
  // FULL asks both ways; a problem both ways (a changed decimal) is said once.
  const unique = [...new Set(messages)];
  return { compatible: unique.length === 0, messages: unique };
}

/**
 * Why `reader` cannot read data of `writer`; empty when it can. The resolver decides;
 * the walk explains. Should the walk find nothing to say about a refusal (a gap in it),
 * the resolver's own words stand in, so a refusal is never silent.
 */
export function readProblems(reader: avro.Type, writer: avro.Type, side: ReadSide): string[] {
  if (canResolve(reader, writer)) return [];
  const explained = explainResolution(reader, writer, side);
  if (explained.length > 0) return explained;
  let why = 'avsc cannot resolve them';
  try {
    reader.createResolver(writer, { ignoreNamespaces: true });
  } catch (err) {
    why = (err as Error).message;
  }
  return side.direction === 'backward'
    ? [`the new schema cannot read data written with version ${side.version}: ${why}`]
    : [`version ${side.version} cannot read data written with the new schema: ${why}`];
}

/** A schema parsed for resolution: validated, with decimals as ResolvingDecimal. */
export function resolvingType(text: string): avro.Type {
  return parseSchema(text, { logicalTypes: { decimal: ResolvingDecimal } });
}
