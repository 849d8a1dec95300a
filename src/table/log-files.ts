/**
 * Names and listing of the files in `_delta_log/` (PROTOCOL.md, "Delta Log Entries",
 * "Checkpoints", "Last Checkpoint File"). Versions are zero-padded to 20 digits, so the
 * lexicographic order of a listing is version order.
 */
import { isTributaryError } from '../core/errors.ts';
import type { ObjectMeta, ObjectStore } from '../storage/object-store.ts';

export const LOG_DIR = '_delta_log/';
export const LAST_CHECKPOINT = `${LOG_DIR}_last_checkpoint`;

const pad = (v: number): string => String(v).padStart(20, '0');
export const commitPath = (v: number): string => `${LOG_DIR}${pad(v)}.json`;
export const checkpointPath = (v: number): string => `${LOG_DIR}${pad(v)}.checkpoint.parquet`;

export type LogFileKind =
  | { kind: 'commit'; version: number }
  | { kind: 'checkpoint'; version: number; part: number; parts: number }
  /** UUID-named (v2) checkpoints need the v2Checkpoint reader feature; we only recognise them. */
  | { kind: 'checkpoint-v2'; version: number }
  | { kind: 'crc'; version: number }
  | { kind: 'compacted'; version: number; end: number };

const COMMIT = /^(\d{20})\.json$/;
const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/;
const MULTIPART = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const UUID_CP = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(json|parquet)$/;
const CRC = /^(\d{20})\.crc$/;
const COMPACTED = /^(\d{20})\.(\d{20})\.compacted\.json$/;

/** Classifies a path under `_delta_log/` (or undefined for anything else). */
export function parseLogPath(path: string): LogFileKind | undefined {
  if (!path.startsWith(LOG_DIR)) return undefined;
  const name = path.slice(LOG_DIR.length);
  let m = COMMIT.exec(name);
  if (m) return { kind: 'commit', version: Number(m[1]) };
  m = CLASSIC.exec(name);
  if (m) return { kind: 'checkpoint', version: Number(m[1]), part: 1, parts: 1 };
  m = MULTIPART.exec(name);
  if (m) return { kind: 'checkpoint', version: Number(m[1]), part: Number(m[2]), parts: Number(m[3]) };
  m = UUID_CP.exec(name);
  if (m) return { kind: 'checkpoint-v2', version: Number(m[1]) };
  m = CRC.exec(name);
  if (m) return { kind: 'crc', version: Number(m[1]) };
  m = COMPACTED.exec(name);
  if (m) return { kind: 'compacted', version: Number(m[1]), end: Number(m[2]) };
  return undefined;
}

export interface LogListing {
  commits: Map<number, ObjectMeta>;
  /** Complete checkpoints only: the single classic file, or every part of a multi-part one. */
  checkpoints: Map<number, ObjectMeta[]>;
  /** Every other log file (crc, compacted, v2 and incomplete checkpoints), for log clean-up. */
  others: ObjectMeta[];
}

/**
 * Lists the log. With `fromVersion` > 0 only the 1000-version blocks from the one
 * holding `fromVersion` onwards are listed (by 17-digit name prefix), so loading the
 * latest snapshot of a long log does not list all of it.
 */
export async function listLog(store: ObjectStore, fromVersion = 0): Promise<LogListing> {
  let metas: ObjectMeta[];
  if (fromVersion <= 0) {
    metas = await store.list(LOG_DIR);
  } else {
    metas = [];
    for (let block = Math.floor(fromVersion / 1000); ; block++) {
      const prefix = `${LOG_DIR}${pad(block * 1000).slice(0, 17)}`;
      const got = await store.list(prefix);
      metas.push(...got);
      // The log continues into the next block only if this block is full to its end.
      const last = commitPath(block * 1000 + 999);
      if (!got.some((m) => m.path === last)) break;
    }
  }
  return classify(metas);
}

function classify(metas: ObjectMeta[]): LogListing {
  const commits = new Map<number, ObjectMeta>();
  const parts = new Map<string, ObjectMeta[]>();
  const others: ObjectMeta[] = [];
  for (const m of metas) {
    const k = parseLogPath(m.path);
    if (k === undefined) continue;
    if (k.kind === 'commit') commits.set(k.version, m);
    else if (k.kind === 'checkpoint') {
      const key = `${k.version}/${k.parts}`;
      const list = parts.get(key) ?? [];
      list[k.part - 1] = m;
      parts.set(key, list);
    } else others.push(m);
  }
  const checkpoints = new Map<number, ObjectMeta[]>();
  for (const [key, list] of parts) {
    const [version, count] = key.split('/').map(Number);
    const complete = list.length === count && list.every((x) => x !== undefined);
    // A classic checkpoint wins over a multi-part one of the same version.
    if (complete && (!checkpoints.has(version) || count === 1)) checkpoints.set(version, list);
    else if (!complete) others.push(...list.filter((x) => x !== undefined));
  }
  return { commits, checkpoints, others };
}

export interface LastCheckpoint {
  version: number;
  size?: number;
  parts?: number;
}

/** `_last_checkpoint`, or undefined if missing or unreadable: it is only a hint. */
export async function readLastCheckpoint(store: ObjectStore): Promise<LastCheckpoint | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(LAST_CHECKPOINT);
  } catch (err) {
    if (isTributaryError(err, 'STORAGE_NOT_FOUND')) return undefined;
    throw err;
  }
  try {
    const j = JSON.parse(new TextDecoder().decode(bytes));
    return Number.isInteger(j?.version) && j.version >= 0 ? j : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep input order. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
