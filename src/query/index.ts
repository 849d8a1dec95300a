export { formatChunks, formatResult, jsonText, OUTPUT_FORMATS, type OutputFormat } from './format.ts';
export { findTableRefs, type TableRef } from './references.ts';
export { microsToIso, type QueryColumn, type QueryResult } from './results.ts';
export {
  parseAsOfTimestamp,
  prepareQuery,
  type RunQueryOptions,
  runQuery,
  type StreamedQuery,
  streamQuery,
} from './run.ts';
export {
  type CheckedQuery,
  checkSandboxedQuery,
  closeSandbox,
  configureSandbox,
  DEFAULT_MEMORY_LIMIT,
  runSandboxedQuery,
  type SandboxedQueryOptions,
  type SandboxedQueryResult,
  type SandboxTable,
} from './sandbox.ts';
