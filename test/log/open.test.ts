import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLog } from '../../src/log/open.ts';

test('openLog opens the embedded log under <dataDir>/log by default', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-open-'));
  try {
    const log = await openLog({ dataDir });
    assert.equal(log.description, `embedded:${join(dataDir, 'log')}`);
    await log.createTopic('t', { partitions: 2 });
    await log.close();
    assert.ok(existsSync(join(dataDir, 'log', 't', 'topic.json')));
    // An empty --kafka value (e.g. an unset variable) still means embedded.
    const again = await openLog({ dataDir, kafka: '' });
    assert.deepEqual(
      (await again.listTopics()).map((t) => t.name),
      ['t'],
    );
    await again.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('openLog with brokers gives the Kafka log', async () => {
  const log = await openLog({ dataDir: '.', kafka: '127.0.0.1:1, 127.0.0.1:2', clientId: 'open-test' });
  try {
    assert.match(log.description, /^kafka:/);
    assert.match(log.description, /127\.0\.0\.1:1/);
  } finally {
    await log.close();
  }
});
