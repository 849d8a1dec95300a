/**
 * The clickstream batch layer's daily job (projects/clickstream: bronze → silver → the
 * four gold tables, every expectation, and the exports to PostgreSQL gold.* when a
 * database is given) over one day of `--events` bronze events (default 10,000,000).
 *
 * The bronze table is written first, straight with the table layer
 * (src/scenarios/clickstream/synthetic-bronze.ts: ~5,000 users, 0.5 % re-sent events),
 * not timed. The models then run in a child process, so its peak RSS is the job's alone:
 * wall time, time per model, and peak RSS (getrusage's maxrss).
 *
 *   node bench/models-clickstream.ts [--events N] [--postgres URL] [--keep DIR]
 *
 * `--postgres` (default $TRIBUTARY_POSTGRES): export gold.* there; without one the job
 * runs without exports. `--keep DIR` reuses (or leaves) the data directory.
 * Prints the figures and writes bench/results/models-clickstream.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PostgresPool } from '../src/connectors/postgres/client.ts';
import { runModels } from '../src/jobs/models/run.ts';
import { writeBronze } from '../src/scenarios/clickstream/synthetic-bronze.ts';

const DAY = '2026-11-29';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    postgres: { type: 'string' },
    keep: { type: 'string' },
    child: { type: 'string' },
  },
});

async function child(dataDir: string): Promise<void> {
  const url = args.postgres;
  const pool = url ? new PostgresPool(url, { max: 2 }) : undefined;
  const t0 = performance.now();
  try {
    const result = await runModels({
      project: 'clickstream',
      dataDir,
      partition: `event_date=${DAY}`,
      postgres: pool,
      exports: pool !== undefined,
    });
    const wallMs = performance.now() - t0;
    process.stdout.write(
      `${JSON.stringify({
        ok: result.ok,
        wallMs: Math.round(wallMs),
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        models: result.models.map((m) => ({
          model: m.model,
          status: m.status,
          rows: m.rows,
          ms: Math.round(m.durationMs),
          exported: m.export?.rows ?? null,
          error: m.error,
        })),
      })}\n`,
    );
  } finally {
    await pool?.end();
  }
}

async function main(): Promise<void> {
  const events = Number(args.events);
  const dataDir = args.keep ?? mkdtempSync(join(tmpdir(), 'tributary-bench-models-'));
  const bronze = join(dataDir, 'tables', 'bronze_user_events');
  try {
    if (!existsSync(join(bronze, '_delta_log'))) {
      const t0 = performance.now();
      await writeBronze(bronze, DAY, events);
      console.log(
        `bronze: ${events.toLocaleString('en-US')} events written in ${((performance.now() - t0) / 1000).toFixed(1)} s (not timed below)`,
      );
    }
    const load = loadavg()[0];
    const url = args.postgres ?? process.env.TRIBUTARY_POSTGRES;
    const r = spawnSync(
      process.execPath,
      [import.meta.filename, '--child', dataDir, ...(url ? ['--postgres', url] : [])],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    if (r.status !== 0) throw new Error(`the models run failed (exit ${r.status})`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
    const result = {
      events,
      day: DAY,
      exports: url !== undefined,
      cpus: Number(cpus),
      loadBefore: load,
      ...out,
    };
    console.log(
      `daily job over ${events.toLocaleString('en-US')} bronze events: ${(out.wallMs / 1000).toFixed(1)} s wall, peak RSS ${out.peakRssMb} MB` +
        ` (${cpus} CPUs, load average ${load.toFixed(1)} before; exports ${url ? 'on' : 'off'}; ${out.ok ? 'all ok' : 'FAILED'})`,
    );
    for (const m of out.models) {
      console.log(
        `  ${m.model.padEnd(26)} ${String(m.rows).padStart(11)} rows  ${(m.ms / 1000).toFixed(2).padStart(7)} s  ${m.status}`,
      );
    }
    mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(
      join(import.meta.dirname, 'results', 'models-clickstream.json'),
      `${JSON.stringify(result, null, 2)}\n`,
    );
  } finally {
    if (!args.keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

if (args.child) await child(args.child);
else await main();
