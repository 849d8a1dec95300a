/**
 * What a job run costs beyond its tasks' own work: the history (a MERGE per change of
 * the run and of each task, into `_tributary_job_runs` / `_tributary_task_runs`), the job
 * lock and the compaction of the history tables, measured with tasks that do nothing.
 *
 *   node bench/jobs-overhead.ts [--runs N] [--tasks 1,6]
 *
 * Prints the figures and writes bench/results/jobs-overhead.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkJobValue, registerTaskKind, runJob } from '../src/jobs/scheduler/index.ts';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, tasks: { type: 'string', default: '1,6' } },
});
const runs = Number(args.runs);
const sizes = args.tasks.split(',').map(Number);
registerTaskKind('nothing', { check: () => [], run: async () => ({}) });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, unknown> = { runs };
for (const n of sizes) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-jobs-'));
  try {
    // A chain: each task after the one before (the longest bookkeeping path).
    const job = await checkJobValue({
      name: `chain_${n}`,
      tasks: Array.from({ length: n }, (_, i) => ({
        name: `t${i}`,
        kind: 'nothing',
        ...(i > 0 && { depends_on: [`t${i - 1}`] }),
      })),
    });
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await runJob(job, { dataDir, log: () => {} });
      times.push(performance.now() - t0);
    }
    const m = median(times);
    console.log(
      `${n} task${n === 1 ? '' : 's'} in a chain: median ${m.toFixed(0)} ms per run (${(m / n).toFixed(0)} ms per task), max ${Math.max(...times).toFixed(0)} ms, over ${runs} runs`,
    );
    results[`tasks_${n}`] = { median_ms: Math.round(m), max_ms: Math.round(Math.max(...times)) };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', 'jobs-overhead.json'),
  `${JSON.stringify(results, null, 2)}\n`,
);
