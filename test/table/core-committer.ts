/**
 * Child process for core-multiprocess.test.ts: waits for the start file (so all
 * children race), appends `count` fake files to the table at `dir`, each commit with a
 * txn for this writer, and prints the versions it got (stdout) and its retries (stderr).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { LocalStore } from '../../src/storage/local.ts';
import { DeltaTable } from '../../src/table/table.ts';

const [dir, writer, count, startFile] = process.argv.slice(2);
const table = await DeltaTable.open(new LocalStore(dir));
writeFileSync(`${startFile}.${writer}.ready`, '');
for (let i = 0; i < 2000 && !existsSync(startFile); i++) await delay(5);
const versions: number[] = [];
let retries = 0;
for (let i = 0; i < Number(count); i++) {
  const r = await table.commit(
    [
      {
        add: {
          path: `${writer}-${i}.parquet`,
          partitionValues: {},
          size: 1,
          modificationTime: 1,
          dataChange: true,
        },
      },
      { txn: { appId: writer, version: i } },
    ],
    { readSnapshot: await table.snapshot(), operation: 'WRITE' },
  );
  versions.push(r.version);
  retries += r.attempts - 1;
}
process.stdout.write(JSON.stringify(versions));
process.stderr.write(`retries=${retries}\n`);
