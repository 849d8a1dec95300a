/**
 * What a logical capture keeps in its state directory: the stage it is in, so a process
 * that starts again knows what a crash left behind.
 *
 * - `snapshotting`: the slot may exist and the snapshot may be partly staged, nothing is
 *   published. A restart drops the slot and starts the snapshot over.
 * - `snapshot-staged`: the snapshot's rows are in `snapshot.jsonl` (complete, synced), the
 *   slot's consistent point is known, `published` rows of the file are durable in the
 *   topic. A restart publishes the rest of the file.
 * - `streaming`: the slot holds the position (its confirmed_flush_lsn, advanced only
 *   once what came before is durable in the topic); nothing else is needed.
 *
 * The file is replaced atomically (written beside, synced, renamed, directory synced),
 * so a crash leaves either the old stage or the new one.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TributaryError } from '../../../../core/errors.ts';
import { syncDirSync, syncFileSync } from '../../../../core/fsync.ts';
import type { ChangeColumn } from '../change.ts';

interface Common {
  /** The table as schema.name: a state directory belongs to one table. */
  table: string;
  slot: string;
  publication: string;
}

export type LogicalState =
  | (Common & { stage: 'snapshotting' })
  | (Common & {
      stage: 'snapshot-staged';
      /** The slot's consistent point (LSN text). */
      consistentPoint: string;
      /** When the snapshot was taken (ms since the epoch). */
      snapshotTime: number;
      columns: ChangeColumn[];
      key: string[];
      rows: number;
      /** Rows of the staged file durable in the topic (a prefix of the file). */
      published: number;
    })
  | (Common & { stage: 'streaming' });

const STATE_FILE = 'logical.json';
export const SNAPSHOT_FILE = 'snapshot.jsonl';

export function readState(dir: string): LogicalState | undefined {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  let state: LogicalState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as LogicalState;
  } catch (err) {
    throw new TributaryError(
      'CAPTURE_STATE_INVALID',
      `the capture's state file ${path} is not readable JSON (${(err as Error).message}): it was edited or damaged. Delete the state directory ${dir} to start the capture over with a new snapshot (the slot is dropped and created again).`,
      { path },
      err,
    );
  }
  if (!['snapshotting', 'snapshot-staged', 'streaming'].includes(state?.stage)) {
    throw new TributaryError(
      'CAPTURE_STATE_INVALID',
      `the capture's state file ${path} has no known stage: delete the state directory ${dir} to start the capture over with a new snapshot.`,
      { path },
    );
  }
  return state;
}

export function writeState(dir: string, state: LogicalState): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, STATE_FILE);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`);
  syncFileSync(tmp);
  renameSync(tmp, path);
  syncDirSync(dir);
}

export function removeSnapshotFiles(dir: string): void {
  rmSync(join(dir, SNAPSHOT_FILE), { force: true });
  rmSync(join(dir, `${SNAPSHOT_FILE}.tmp`), { force: true });
}
