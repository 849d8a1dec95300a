import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { acquireLock } from '../../src/log/embedded/lock.ts';

const dir = mkdtempSync(join(tmpdir(), 'tributary-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const locked = (e: unknown) => isTributaryError(e, 'LOG_LOCKED');

test('a held lock refuses a second holder until released', () => {
  const path = join(dir, 'a.lock');
  const first = acquireLock(path, 'partition a', {});
  assert.throws(() => acquireLock(path, 'partition a', {}), locked);
  first.release();
  assert.equal(existsSync(path), false);
  acquireLock(path, 'partition a', {}).release();
});

test('a lock whose process is gone is broken', () => {
  const path = join(dir, 'b.lock');
  const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
  writeFileSync(path, JSON.stringify({ pid: dead, token: 'old' }));
  const lock = acquireLock(path, 'partition b', {});
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  lock.release();
});

test('a lock whose pid was reused by another process (other start time) is broken', () => {
  const path = join(dir, 'c.lock');
  writeFileSync(path, JSON.stringify({ pid: process.pid, start: 'not-this-process', token: 'old' }));
  const lock = acquireLock(path, 'partition c', {});
  assert.notEqual(JSON.parse(readFileSync(path, 'utf8')).token, 'old');
  lock.release();
});

test('a fresh empty lock file (a writer still creating it) counts as held', () => {
  const path = join(dir, 'd.lock');
  writeFileSync(path, '');
  assert.throws(() => acquireLock(path, 'partition d', {}), locked);
});

test('release never removes a lock that another holder took over', () => {
  const path = join(dir, 'e.lock');
  const mine = acquireLock(path, 'partition e', {});
  writeFileSync(path, JSON.stringify({ pid: process.pid, token: 'someone-else' }));
  mine.release();
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).token, 'someone-else');
});
