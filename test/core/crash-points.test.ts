/**
 * Crash points (src/core/crash-points.ts) in a child process: inert without the
 * environment; armed, the process dies by SIGKILL at the n-th time the point is reached,
 * after the trace line and before the code that follows; a name that is not a point is
 * refused on start.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'core', 'crash-points.ts');

/** Reaches commit.before-put three times and dlq.produced once, writing `after <i>` to `marks` after each. */
function runChild(dir: string, env: Record<string, string>) {
  const script = `
    import { appendFileSync } from 'node:fs';
    import { crashPoint } from ${JSON.stringify(MODULE)};
    const marks = ${JSON.stringify(join(dir, 'marks'))};
    crashPoint('dlq.produced');
    for (let i = 1; i <= 3; i++) {
      crashPoint('commit.before-put');
      appendFileSync(marks, 'after ' + i + '\\n');
    }`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, TRIBUTARY_CRASH_AT: '', TRIBUTARY_CRASH_TRACE: '', ...env },
    encoding: 'utf8',
  });
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-crash-points-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('without the environment, crash points do nothing', () =>
  withDir((dir) => {
    const r = runChild(dir, {});
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(dir, 'marks'), 'utf8'), 'after 1\nafter 2\nafter 3\n');
    assert.equal(existsSync(join(dir, 'trace')), false);
  }));

test('armed at name:n, the process is killed at the n-th time, after the trace line', () =>
  withDir((dir) => {
    const trace = join(dir, 'trace');
    const r = runChild(dir, { TRIBUTARY_CRASH_AT: 'commit.before-put:2', TRIBUTARY_CRASH_TRACE: trace });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.equal(readFileSync(join(dir, 'marks'), 'utf8'), 'after 1\n', 'nothing after the point ran');
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    const pid = r.pid;
    assert.deepEqual(lines, [
      `dlq.produced\t1\t${pid}`,
      `commit.before-put\t1\t${pid}`,
      `commit.before-put\t2\t${pid}\tcrash`,
    ]);
  }));

test('armed at a name without n, the first time kills; tracing alone kills nothing', () =>
  withDir((dir) => {
    const first = runChild(dir, { TRIBUTARY_CRASH_AT: 'dlq.produced' });
    assert.equal(first.signal, 'SIGKILL');
    assert.equal(existsSync(join(dir, 'marks')), false);
    const traced = runChild(dir, { TRIBUTARY_CRASH_TRACE: join(dir, 'trace') });
    assert.equal(traced.status, 0, traced.stderr);
    assert.equal(readFileSync(join(dir, 'trace'), 'utf8').trim().split('\n').length, 4);
  }));

test('an unknown point or a bad n is refused when the process starts', () =>
  withDir((dir) => {
    for (const at of ['commit.before-putt', 'commit.before-put:0', 'commit.before-put:x']) {
      const r = runChild(dir, { TRIBUTARY_CRASH_AT: at });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /TRIBUTARY_CRASH_AT=.*known crash point/);
      assert.match(r.stderr, /commit\.after-put/, 'the message lists the points');
    }
  }));
