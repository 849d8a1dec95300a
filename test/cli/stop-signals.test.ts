/**
 * The stop signals of the long-running commands (src/cli/commands/stop-signals.ts), in a
 * real process: the same request delivered twice stops once; a second request later ends
 * the process at once, by that signal.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { DUPLICATE_WINDOW_MS } from '../../src/cli/commands/stop-signals.ts';
import { ROOT } from '../interop/helpers.ts';

const MODULE = pathToFileURL(join(ROOT, 'src', 'cli', 'commands', 'stop-signals.ts')).href;

/** A process that reports each stop request and then stays up, as a long clean stop would. */
function stoppable() {
  const program = `
    const { onStopSignals } = await import(${JSON.stringify(MODULE)});
    onStopSignals((signal) => console.log('stop ' + signal));
    setInterval(() => {}, 1000);
    console.log('ready');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, sig) => resolve(sig)),
  );
  const until = async (text: string) => {
    while (!out.includes(text)) await sleep(20);
  };
  return { child, exited, until, output: () => out };
}

test('a stop signal repeated at once is the same request: one stop, the process stays up', {
  timeout: 60_000,
}, async () => {
  const p = stoppable();
  await p.until('ready');
  p.child.kill('SIGTERM');
  p.child.kill('SIGTERM');
  p.child.kill('SIGINT');
  // Pending signals are delivered lowest number first: either may be the one seen first.
  await p.until('stop SIG');
  // Still there well after the repeats arrived.
  await sleep(DUPLICATE_WINDOW_MS / 2);
  assert.equal(p.child.exitCode, null);
  assert.equal(p.child.signalCode, null);
  assert.equal(p.output().match(/stop /g)?.length, 1);
  p.child.kill('SIGKILL');
  await p.exited;
});

test('a second stop signal after the window ends the process at once, by that signal', {
  timeout: 60_000,
}, async () => {
  const p = stoppable();
  await p.until('ready');
  p.child.kill('SIGINT');
  await p.until('stop SIGINT');
  await sleep(DUPLICATE_WINDOW_MS + 200);
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 'SIGINT');
  assert.equal(p.output().match(/stop /g)?.length, 1);
});
