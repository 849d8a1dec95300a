/**
 * Scratch files: a write that fails (the RAM disk full, a missing directory) is a
 * retryable STORAGE_IO naming the file, so the pipeline retries the batch instead of
 * stopping on a plain error.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { SCRATCH_DIR, writeScratch } from '../../src/stream/scratch.ts';

test('a scratch file that cannot be written is a retryable STORAGE_IO', async () => {
  const file = join(SCRATCH_DIR, 'tributary-no-such-dir', 'tributary-batch-1-x.ndjson');
  await assert.rejects(writeScratch(file, 'x'), (err: unknown) => {
    assert.ok(isTributaryError(err, 'STORAGE_IO'), String(err));
    assert.equal(err.retryable, true);
    assert.match(err.message, /tributary-no-such-dir.*ENOENT/);
    return true;
  });
  assert.equal(existsSync(file), false);
});
