/**
 * Named crash points: places in the product code where a test can have the process
 * killed, to check that what a crash at exactly that moment leaves behind is recovered
 * with nothing lost or duplicated (test/scenarios/orders-crash.test.ts; docs/runtime.md,
 * "Crash points").
 *
 * Inert unless the environment asks for them when the process starts:
 * - `TRIBUTARY_CRASH_AT=name[:n]`: the n-th time (default 1) this process reaches the
 *   point, it is killed with SIGKILL at once: nothing flushed, nothing cleaned up, no
 *   `finally` run — as a power cut or the OOM killer would leave it (minus the page cache).
 * - `TRIBUTARY_CRASH_TRACE=path`: every point reached is appended to that file (one line
 *   `name<TAB>n<TAB>pid`, synchronously), and the kill as `name<TAB>n<TAB>pid<TAB>crash`
 *   before the signal is sent.
 * Disarmed, a point costs the test of one module-level boolean.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** Every point, by name, and the moment it marks. Names are stable: tests and docs use them. */
export const CRASH_POINTS = {
  'dlq.produced':
    "a batch's rejects are acknowledged by the DLQ topic; no table commit of the batch (the DLQ's progress) yet",
  'sink.append.written':
    "the append sink's data files are written and the DLQ's progress is known; the commit not made",
  'sink.append.committed':
    'the append sink committed the batch (rows, its progress, the DLQ progress); the MERGE sink has not',
  'sink.merge.committed':
    'the MERGE sink committed buffered changes; the batches after them are not merged, compaction not run',
  'merge.written': "a MERGE's rewritten and new files are written; its commit not made",
  'optimize.bin-written': 'OPTIMIZE wrote the files of one bin; later bins and the commit not done',
  'checkpoint.written': 'a checkpoint file is written; `_last_checkpoint` does not point at it yet',
  'vacuum.deleted': 'VACUUM deleted one file; the rest of the files it deletes are still there',
  'maintenance.optimized': "a sink's maintenance ran OPTIMIZE; checkpoint, VACUUM, log clean-up not yet",
  'maintenance.checkpointed': "a sink's maintenance wrote its checkpoint; VACUUM and log clean-up not yet",
  'maintenance.vacuumed': "a sink's maintenance ran VACUUM; log clean-up not yet",
  'dedup.state-saved':
    "a dedup's state after a batch is saved (its new keys and the list of its key segments); the steps after it, the batch's plan and the sinks not yet",
  'window.state-saved':
    "the windows' state after a batch is saved; the batch's plan not yet written, no sink committed it",
  'plan.written': "a batch's plan is written (after its windows' state); no sink committed the batch yet",
  'sink.topic.produced': "a topic sink's records of a batch are acknowledged; its progress not yet stored",
  'quality.produced':
    "a batch's data-quality results are acknowledged by the quality topic; the quality progress not yet stored",
  'sink.postgres.written':
    "a PostgreSQL sink's rows and progress of a batch are written in its transaction; COMMIT not sent",
  'sink.postgres.committed':
    'a PostgreSQL sink committed a batch (rows and progress); the sinks after it have not',
  'capture.polling.queried':
    'polling capture: a poll read its rows from PostgreSQL; nothing of them published, the state not saved',
  'capture.polling.published':
    "polling capture: a poll's changes are durable in the topic; the state file not yet saved",
  'commit.before-put': "a commit's actions are ready; `_delta_log/N.json` not yet put",
  'commit.after-put': '`_delta_log/N.json` is put; the writer has not seen the outcome',
  'capture.logical.slot-created':
    'logical capture: the replication slot is created with its exported snapshot; the snapshot not yet read',
  'capture.logical.snapshot-staged':
    "logical capture: the snapshot's rows are staged to a file and the stage recorded; none published",
  'capture.logical.snapshot-published':
    'logical capture: a chunk of the staged snapshot is durable in the topic; its progress not yet recorded',
  'capture.logical.published':
    'logical capture: a batch of whole transactions is durable in the topic; the slot not yet acknowledged',
  'capture.logical.acknowledged':
    "logical capture: the batch's end LSN is sent to the server as flushed (the slot's confirmed_flush_lsn)",
  'log.append.written':
    'embedded log: a produced batch is written to the segment; its index entry and fsync not yet',
  'log.roll.sealed': 'embedded log: the full segment is sealed; the next segment not created yet',
  'log.roll.created': 'embedded log: the next segment is created; its index file not written yet',
  'ingest.key-claimed':
    "HTTP ingest: a keyed request's claim holds its Idempotency-Key; none of its records written yet",
  'ingest.key-written':
    "HTTP ingest: a keyed request's records are acknowledged by the log; its `done` marker not appended yet",
} as const;

export type CrashPointName = keyof typeof CRASH_POINTS;

const at = process.env.TRIBUTARY_CRASH_AT;
const trace = process.env.TRIBUTARY_CRASH_TRACE;
const enabled = (at !== undefined && at !== '') || (trace !== undefined && trace !== '');

let armed: string | undefined;
let armedAt = 1;
if (at !== undefined && at !== '') {
  const m = /^([a-z0-9.-]+)(?::([1-9][0-9]*))?$/.exec(at);
  if (m === null || !(m[1] in CRASH_POINTS)) {
    throw new Error(
      `TRIBUTARY_CRASH_AT='${at}' is not 'name[:n]' with a known crash point (n >= 1); the points are: ${Object.keys(CRASH_POINTS).join(', ')}`,
    );
  }
  armed = m[1];
  armedAt = m[2] === undefined ? 1 : Number(m[2]);
}

const reached = new Map<string, number>();
let traceFd = -1;

function note(line: string): void {
  if (trace === undefined || trace === '') return;
  if (traceFd < 0) traceFd = openSync(trace, 'a');
  writeSync(traceFd, `${line}\n`);
}

function reach(name: CrashPointName): void {
  const n = (reached.get(name) ?? 0) + 1;
  reached.set(name, n);
  const line = `${name}\t${n}\t${process.pid}`;
  if (name === armed && n === armedAt) {
    note(`${line}\tcrash`);
    if (traceFd >= 0) closeSync(traceFd);
    process.kill(process.pid, 'SIGKILL');
  }
  note(line);
}

/** Marks a crash point (see the header): kills the process here when the environment arms it. */
export function crashPoint(name: CrashPointName): void {
  if (enabled) reach(name);
}
