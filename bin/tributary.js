#!/usr/bin/env node
// The `tributary` command. Node.js 24 runs the TypeScript sources directly; when this
// file is started by an older Node.js (the machine's own), it hands over to the Node.js 24
// that the project installs through the npm `node` package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const node24 = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node24)) {
    console.error(
      `tributary needs Node.js 24 or newer (this is ${process.version}); run 'npm install' first.`,
    );
    process.exit(1);
  }
  const r = spawnSync(node24, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
} else {
  await import('../src/cli/main.ts');
}
