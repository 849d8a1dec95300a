/**
 * Topic metadata on disk: `<root>/<topic>/topic.json` and one directory per partition.
 * A topic appears and disappears atomically: it is built under a temporary name and
 * renamed into place, and deleted by renaming it away before removing the files.
 * Durable (unless the log's flush policy is `never`): everything built under the
 * temporary name is synced before the rename, and the log directory after it, so a
 * topic that was created survives a machine crash whole.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TributaryError } from '../../core/errors.ts';
import { type SyncObserver, syncDirSync, syncFileSync } from '../../core/fsync.ts';
import type { TopicConfig, TopicInfo } from '../log.ts';
import { segmentName } from './segment-files.ts';

/** Kafka's rule, minus a leading dot (names starting with '.' are this log's own directories). */
const TOPIC_NAME = /^[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,248}$/;
const MAX_PARTITIONS = 10_000;

export function validateTopicName(name: string): void {
  if (!TOPIC_NAME.test(name)) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `topic name '${name}' is not valid: use 1-249 characters of a-z A-Z 0-9 . _ - (not starting with '.')`,
      { topic: name },
    );
  }
}

export function validateTopicConfig(name: string, config: TopicConfig): void {
  const { partitions, retentionMs, retentionBytes } = config;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `topic '${name}': partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${partitions}`,
      { topic: name, partitions },
    );
  }
  for (const [field, v] of [
    ['retentionMs', retentionMs],
    ['retentionBytes', retentionBytes],
  ] as const) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `topic '${name}': ${field} must be a positive integer, got ${v}`,
        {
          topic: name,
          [field]: v,
        },
      );
    }
  }
}

export function topicDir(root: string, name: string): string {
  return join(root, name);
}

export function partitionDir(root: string, name: string, partition: number): string {
  return join(root, name, String(partition));
}

export function notFound(name: string, root: string): TributaryError {
  return new TributaryError(
    'LOG_TOPIC_NOT_FOUND',
    `topic '${name}' does not exist in the embedded log at ${root}; create it with 'tributary topics create ${name}'`,
    { topic: name, dir: root },
  );
}

export interface TopicSync {
  durable: boolean;
  onSync?: SyncObserver;
}

function syncDirNow(dir: string, sync: TopicSync): void {
  syncDirSync(dir);
  sync.onSync?.('dir', dir);
}

export function createTopicFiles(
  root: string,
  name: string,
  config: TopicConfig,
  sync: TopicSync = { durable: true },
): TopicInfo {
  validateTopicName(name);
  validateTopicConfig(name, config);
  const made = mkdirSync(root, { recursive: true });
  if (made !== undefined && sync.durable) {
    // The log directory (and any folder above it just created) must be reachable too.
    for (let d = root; ; d = dirname(d)) {
      syncDirNow(dirname(d), sync);
      if (d === made) break;
    }
  }
  const info: TopicInfo = { name, partitions: config.partitions };
  if (config.retentionMs !== undefined) info.retentionMs = config.retentionMs;
  if (config.retentionBytes !== undefined) info.retentionBytes = config.retentionBytes;
  const tmp = join(root, `.creating-${randomUUID()}`);
  mkdirSync(tmp);
  try {
    writeFileSync(join(tmp, 'topic.json'), `${JSON.stringify(info, null, 2)}\n`);
    for (let p = 0; p < config.partitions; p++) {
      mkdirSync(join(tmp, String(p)));
      writeFileSync(join(tmp, String(p), segmentName(0, 'log')), '');
    }
    if (sync.durable) {
      syncFileSync(join(tmp, 'topic.json'));
      sync.onSync?.('file', join(tmp, 'topic.json'));
      for (let p = 0; p < config.partitions; p++) syncDirNow(join(tmp, String(p)), sync);
      syncDirNow(tmp, sync);
    }
    if (existsSync(topicDir(root, name))) throw exists(name, root);
    try {
      renameSync(tmp, topicDir(root, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw exists(name, root);
      throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (sync.durable) syncDirNow(root, sync);
  return info;
}

function exists(name: string, root: string): TributaryError {
  return new TributaryError(
    'LOG_TOPIC_EXISTS',
    `topic '${name}' already exists in the embedded log at ${root}; use it, or delete it first`,
    { topic: name, dir: root },
  );
}

export function readTopic(root: string, name: string): TopicInfo {
  if (!TOPIC_NAME.test(name)) throw notFound(name, root);
  let text: string;
  try {
    text = readFileSync(join(topicDir(root, name), 'topic.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(name, root);
    throw err;
  }
  return JSON.parse(text) as TopicInfo;
}

export function listTopicFiles(root: string): TopicInfo[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: TopicInfo[] = [];
  for (const n of names.sort()) {
    if (n.startsWith('.')) continue;
    try {
      out.push(readTopic(root, n));
    } catch {
      // Not a topic (or deleted meanwhile).
    }
  }
  return out;
}

export function deleteTopicFiles(root: string, name: string, sync: TopicSync = { durable: true }): void {
  readTopic(root, name);
  const away = join(root, `.deleting-${name}-${randomUUID()}`);
  try {
    renameSync(topicDir(root, name), away);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(name, root);
    throw err;
  }
  // A deleted topic must not come back after a machine crash.
  if (sync.durable) syncDirNow(root, sync);
  rmSync(away, { recursive: true, force: true });
}
