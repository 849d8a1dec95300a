/**
 * Checking a kind's params with the same checker as the jobs file (unknown keys are
 * errors, with the nearest known key suggested), for the built-in kinds and any other.
 */
import { checkShape, type Problem } from '../../../pipeline/shape.ts';

export type ParamShape = NonNullable<Parameters<typeof checkShape>[1]>;

/** Problems of `params` against an object shape whose fields are given here. */
export function checkParams(
  params: Record<string, unknown>,
  fields: Record<string, { shape: ParamShape; required?: boolean }>,
): Problem[] {
  return checkShape(params, { t: 'object', fields });
}

export const P = {
  text: (oneOf?: readonly string[]): ParamShape => ({ t: 'string', ...(oneOf && { oneOf }) }),
  name: { t: 'string', identifier: true } as ParamShape,
  list: (of: ParamShape, nonEmpty = false): ParamShape => ({ t: 'array', of, nonEmpty }),
  duration: { t: 'duration' } as ParamShape,
  size: { t: 'size' } as ParamShape,
};

/** JSON-safe copy of a query value: bigints as numbers when exact, else text; bytes as hex. */
export function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}
