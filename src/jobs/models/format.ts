/** Text for people: a run's models, expectations and exports as the command line prints them. */
import type { ExpectationResult } from './expectations.ts';
import type { ModelOutcome, ModelsRunResult, TestModelsResult } from './run.ts';

const int = (n: number) => n.toLocaleString('en-US');

export function formatSeconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** One line per expectation; a failure adds its sample (rows as JSON, up to 3 shown). */
export function formatExpectation(r: ExpectationResult, indent = '  '): string[] {
  const verdict = r.passed ? 'pass' : r.severity === 'error' ? 'FAIL' : 'WARN';
  const what =
    r.failingRows !== null ? `${int(r.failingRows)} failing row${r.failingRows === 1 ? '' : 's'}` : '';
  const detail = [what, r.observed].filter((x) => x).join('; ');
  const lines = [
    `${indent}${verdict}  ${r.expectation}${r.severity === 'warn' ? ' (warn)' : ''}${detail ? `  ${detail}` : ''}`,
  ];
  if (!r.passed) {
    for (const row of r.sample.slice(0, 3)) {
      const text = JSON.stringify(row);
      lines.push(`${indent}      ${text.length > 200 ? `${text.slice(0, 197)}...` : text}`);
    }
    if (r.sample.length > 3) lines.push(`${indent}      … ${r.sample.length - 3} more in the sample`);
  }
  return lines;
}

/** Expectations after a run: the passed ones counted on one line, each failure in full. */
export function formatExpectations(results: ExpectationResult[], indent = '  '): string[] {
  const passed = results.filter((r) => r.passed);
  const lines: string[] = [];
  if (passed.length > 0) {
    lines.push(`${indent}${passed.length} expectation${passed.length === 1 ? '' : 's'} passed`);
  }
  for (const r of results) if (!r.passed) lines.push(...formatExpectation(r, indent));
  return lines;
}

export function formatOutcome(o: ModelOutcome, width = 28): string[] {
  const head = o.model.padEnd(width);
  if (o.status === 'skipped') return [`${head}  skipped: ${o.skippedBecause}`];
  const parts: string[] = [
    o.materialized === 'incremental' && o.mode === 'replace-partitions' ? 'partitions' : 'table',
  ];
  if (o.rows !== null) parts.push(`${int(o.rows)} row${o.rows === 1 ? '' : 's'}`);
  if (o.rows !== null) parts.push(o.versionWritten === null ? 'unchanged' : `version ${o.versionWritten}`);
  parts.push(formatSeconds(o.durationMs));
  if (o.inputs.length > 0) parts.push(`read ${o.inputs.map((i) => `${i.table}@${i.version}`).join(', ')}`);
  if (o.export)
    parts.push(`→ postgres ${o.export.table} (${int(o.export.rows)} row${o.export.rows === 1 ? '' : 's'})`);
  const status = o.status === 'success' ? 'ok' : o.status === 'warn' ? 'ok, with warnings' : 'FAILED';
  const lines = [`${head}  ${parts.join('  ')}  ${status}`];
  lines.push(...formatExpectations(o.expectations));
  if (o.error) lines.push(`  error: ${o.error.split('\n').join('\n    ')}`);
  return lines;
}

export function formatRunSummary(r: ModelsRunResult, wallMs: number): string {
  const count = (s: ModelOutcome['status']) => r.models.filter((o) => o.status === s).length;
  const ok = count('success') + count('warn');
  const sourcesFailed = r.sources.filter((x) => !x.passed && x.severity === 'error').length;
  return (
    `${r.models.length} model${r.models.length === 1 ? '' : 's'}: ${ok} ok, ${count('failed')} failed, ${count('skipped')} skipped` +
    (sourcesFailed > 0
      ? `; ${sourcesFailed} source expectation${sourcesFailed === 1 ? '' : 's'} failed`
      : '') +
    ` in ${formatSeconds(wallMs)} (run ${r.runId})`
  );
}

export function formatTest(r: TestModelsResult): string[] {
  const lines: string[] = [];
  let target = '';
  for (const x of r.results) {
    if (x.target !== target) {
      target = x.target;
      lines.push(
        `${x.targetKind === 'source' ? 'source ' : ''}${x.target} (version ${x.tableVersion}${x.partition ? `, ${x.partition}` : ''})`,
      );
    }
    lines.push(...formatExpectation(x));
  }
  for (const m of r.missing)
    lines.push(`${m}: no table yet (run the model first); its expectations were not checked`);
  const failed = r.results.filter((x) => !x.passed && x.severity === 'error').length;
  const warned = r.results.filter((x) => !x.passed && x.severity === 'warn').length;
  lines.push(
    `${r.results.length} expectation${r.results.length === 1 ? '' : 's'}: ${r.results.length - failed - warned} passed, ${failed} failed, ${warned} warned (run ${r.runId})`,
  );
  return lines;
}
