/**
 * The `--schema` argument of `tributary table create`: inline JSON or a file holding it,
 * either a Delta StructType (`{"type":"struct","fields":[...]}`, what metaData.schemaString
 * holds) or the short form `{"id": "long", "tags": {"type": "array", ...}}` (column →
 * Delta type, every column nullable).
 */
import { promises as fs } from 'node:fs';
import { isTributaryError, TributaryError } from '../../../core/errors.ts';
import type { StructType } from '../../../table/schema.ts';
import { parseSchema } from '../../../table/schema-json.ts';

export async function readSchemaArg(arg: string): Promise<StructType> {
  let text = arg;
  let where = '--schema';
  if (!arg.trimStart().startsWith('{')) {
    where = `schema file ${arg}`;
    try {
      text = await fs.readFile(arg, 'utf8');
    } catch (err) {
      throw new TributaryError(
        'INPUT_INVALID',
        `cannot read the schema file '${arg}': ${(err as Error).message}; give a file or inline JSON`,
        { file: arg },
        err,
      );
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TributaryError(
      'INPUT_INVALID',
      `${where} is not valid JSON: ${(err as Error).message}`,
      { where },
      err,
    );
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new TributaryError('TABLE_INVALID_SCHEMA', `${where} must be a JSON object`, { where });
  }
  const obj = json as Record<string, unknown>;
  const struct =
    obj.type === 'struct' && Array.isArray(obj.fields)
      ? obj
      : {
          type: 'struct',
          fields: Object.entries(obj).map(([name, type]) => ({ name, type, nullable: true, metadata: {} })),
        };
  try {
    return parseSchema(JSON.stringify(struct), where);
  } catch (err) {
    // parseSchema reports a bad log; here the schema is the user's input.
    if (!isTributaryError(err)) throw err;
    throw new TributaryError('TABLE_INVALID_SCHEMA', err.message, { where }, err);
  }
}
