/**
 * A MERGE sink's buffered changes reach the table while the pipeline keeps running with
 * nothing new to read: changes buffered until the sink's commit interval passes are
 * merged once it has, not only when the next record arrives or the pipeline stops. (The
 * last changes of a burst — a capture's last poll, a workload's last transaction — were
 * otherwise invisible in the table until more input came.)
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { readRows } from '../../src/table/index.ts';
import { withLog } from '../stream/with-log.ts';

const DEFINITION = `
name: latest_status
source: { topic: status, partitions: 2 }
contract:
  name: status.v1
  fields:
    - { name: id, type: string }
    - { name: status, type: string }
    - { name: n, type: integer }
sinks:
  - name: current
    type: delta_merge
    from: input
    table: current
    key: [id]
    newest_by: [n]
    commit_interval: 1s
runtime: { trigger: 20ms }
`;

describe('a MERGE sink between batches', () => {
  it('merges what it buffered once its interval passes, while the pipeline runs with nothing new', async () => {
    await withLog('merge-idle', async (log, dir) => {
      await log.ensureTopic('status', { partitions: 2 });
      const rows = Array.from({ length: 50 }, (_, i) => ({ id: `o${i % 20}`, status: `s${i}`, n: i }));
      await log.produce(
        rows.map((r, i) => ({
          topic: 'status',
          partition: i % 2,
          value: new TextEncoder().encode(JSON.stringify(r)),
        })),
      );
      const c = await compilePipeline(fromYaml(DEFINITION, 'p.yaml'), { dataDir: join(dir, 'data'), log });
      const stop = new AbortController();
      const running = c.pipeline.run({ signal: stop.signal });
      try {
        const table = c.tables.get('current')!;
        const want = new Map(rows.map((r) => [r.id, r.status]));
        let got = new Map<string, string>();
        // The records are read in the first batch and buffered (the interval has not
        // passed); later fetches find nothing. Wait (bounded) for the MERGE.
        for (let i = 0; i < 600 && got.size < want.size; i++) {
          await new Promise((r) => setTimeout(r, 50));
          const snap = await table.snapshot().catch(() => undefined);
          if (!snap) continue;
          got = new Map((await readRows(table, snap)).map((r) => [String(r.id), String(r.status)]));
        }
        assert.ok(!stop.signal.aborted);
        assert.deepEqual(got, want, 'the table holds each id’s newest status while the pipeline still runs');
      } finally {
        stop.abort();
        await running;
        await c.pipeline.close();
      }
    });
  });
});
