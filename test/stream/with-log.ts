/** Runs `fn` with an embedded log in a fresh temp folder, removed afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';

export async function withLog(prefix: string, fn: (log: Log, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `tributary-${prefix}-`));
  const log = await openLog({ dataDir: dir });
  try {
    await fn(log, dir);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
