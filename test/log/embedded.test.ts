import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import { logContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'tributary-embedded-contract-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Every open() shares one directory, like two processes sharing a data dir.
logContract('embedded', async () => new EmbeddedLog({ dir, fsync: 'never' }));
