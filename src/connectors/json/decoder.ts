/**
 * The JSON decoder: a topic's record values, each one JSON object, checked against a
 * data contract (strict check of the bytes, then DuckDB's JSON reader and the contract's
 * vectorized rules; decode.ts) into typed rows. Rejected records keep their bytes and
 * get the broken rule as their reason.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ValueBatch } from '../../log/log.ts';
import {
  type CompiledContract,
  compileContract,
  contractRules,
  type DataContract,
} from '../../quality/contract.ts';
import type { Decoder, DeferredDecodedBatch, RuleRef } from '../../stream/types.ts';
import { decodeBatchDeferred } from './decode.ts';

export class JsonDecoder implements Decoder {
  readonly contractName: string;
  readonly compiled: CompiledContract;
  /** `json` (not one JSON object of the contract's types), then the contract's rules. */
  readonly rules: readonly RuleRef[];

  constructor(contract: DataContract) {
    this.contractName = contract.name;
    this.compiled = compileContract(contract);
    this.rules = [{ field: '', rule: 'json' }, ...contractRules(contract)];
  }

  decode(
    conn: DuckDBConnection,
    batches: readonly ValueBatch[],
    explainConn: DuckDBConnection,
    raw: { table: string; shared: boolean },
  ): Promise<DeferredDecodedBatch> {
    return decodeBatchDeferred(conn, batches, this.compiled, explainConn, raw);
  }
}
