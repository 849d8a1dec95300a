/**
 * One writer process for test/interop/concurrency.test.ts. It opens the table, prints
 * "ready", waits for a line on stdin (so all writers start together), does its work and
 * prints one JSON line with what it committed.
 *
 * The table is a directory or a URL (s3://bucket/prefix, with the S3 settings of the
 * environment: docs/storage.md).
 *
 * usage: node concurrent-writer.ts <table location> append <writer id> <batches>
 *        node concurrent-writer.ts <table location> optimize <rounds>
 *        node concurrent-writer.ts <table location> merge <merger id>
 */
import { once } from 'node:events';
import { openStore } from '../../src/storage/open.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { append, DeltaTable, merge, optimize } from '../../src/table/index.ts';

const [path, role, ...rest] = process.argv.slice(2);
const store = openStore(path);
const table = await DeltaTable.open(store);
process.stdout.write('ready\n');
await once(process.stdin, 'data');
process.stdin.pause();

const versions: number[] = [];
/** Commit attempts beyond the first: how often this writer lost a race and retried. */
let retries = 0;
if (role === 'append') {
  const [writer, batches] = [rest[0], Number(rest[1])];
  for (let b = 0; b < batches; b++) {
    const batchId = `${writer}-${b}`;
    const rows = [0, 1, 2].map((k) => ({ key: `${batchId}-${k}`, batch_id: batchId, value: `w${writer}` }));
    // Each batch is its own blind append: these race each other and the others.
    const res = await append(table, { rows });
    versions.push(res.version);
    retries += res.attempts - 1;
  }
} else if (role === 'optimize') {
  for (let round = 0; round < Number(rest[0]); round++) {
    const res = await optimize(table, { targetFileSize: 64 * 1024 * 1024, maxRetries: 50 });
    if (res.version !== undefined) versions.push(res.version);
  }
} else if (role === 'merge') {
  // Updates its own seed row and inserts two rows of its own.
  const id = rest[0];
  const rows = [
    { key: `seed-${id}`, batch_id: 'seed', value: `merged by ${id}` },
    { key: `merge-${id}-new-1`, batch_id: 'merge', value: 'inserted' },
    { key: `merge-${id}-new-2`, batch_id: 'merge', value: 'inserted' },
  ];
  const res = await merge(
    table,
    { rows },
    { on: ['key'], whenMatched: 'update', whenNotMatched: 'insert', maxRetries: 50 },
  );
  if (res.version !== undefined) versions.push(res.version);
  retries += res.attempts - 1;
} else {
  throw new Error(`unknown role ${role}`);
}
process.stdout.write(`${JSON.stringify({ role, versions, retries })}\n`);
(store as Partial<S3Store>).destroy?.();
