/**
 * SQL models (docs/models.md): the API the command line and the scheduler call.
 *
 *   runModels({ project, dataDir, select?, partition?, postgres?, exports?, clock?, onEvent? })
 *     → ModelsRunResult: per model its status, rows, version written, inputs, expectations, export
 *   testModels({ project, dataDir, select?, partition?, clock? }) → TestModelsResult
 *   exportModels({ project, dataDir, select?, partition?, postgres }) → the exports made
 *   loadProject(dir), buildGraph(project), selectModels(graph, select): the project and its DAG
 */
export type { Check, Expectation, ExportConfig, Materialization, ModelConfig, Severity } from './config.ts';
export type { ExpectationResult } from './expectations.ts';
export type { ExportResult } from './export.ts';
export { formatExpectations, formatOutcome, formatRunSummary, formatTest } from './format.ts';
export { buildGraph, formatDot, formatGraph, type ModelGraph, selectModels } from './graph.ts';
export { EXPECTATIONS_TABLE, type ModelRunRecord, type ModelStatus, RUNS_TABLE } from './history.ts';
export { type PartitionSpec, parsePartitions } from './inputs.ts';
export { BUILTIN_PROJECTS_DIR, loadProject, type Model, type Project, resolveProjectDir } from './project.ts';
export {
  type ExportModelsOptions,
  exportModels,
  type ModelOutcome,
  type ModelsEvent,
  type ModelsOptions,
  type ModelsRunResult,
  type RunModelsOptions,
  runModels,
  type TestModelsResult,
  testModels,
} from './run.ts';
