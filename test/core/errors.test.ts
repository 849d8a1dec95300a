import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderErrorDocs } from '../../scripts/gen-error-docs.ts';
import { ERROR_CODES, isTributaryError, TributaryError } from '../../src/core/errors.ts';

test('an error carries its code, domain, retryability and details', () => {
  const err = new TributaryError('TABLE_COMMIT_CONFLICT', 'lost to version 7', { version: 7 });
  assert.equal(err.code, 'TABLE_COMMIT_CONFLICT');
  assert.equal(err.domain, ERROR_CODES.TABLE_COMMIT_CONFLICT.domain);
  assert.equal(err.retryable, true);
  assert.deepEqual(err.details, { version: 7 });
  assert.ok(isTributaryError(err, 'TABLE_COMMIT_CONFLICT'));
  assert.ok(!isTributaryError(err, 'TABLE_NOT_FOUND'));
  assert.ok(!isTributaryError(new Error('x')));
});

test('docs/errors.md lists every error code (regenerate with node scripts/gen-error-docs.ts)', () => {
  const page = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(page, renderErrorDocs());
});
