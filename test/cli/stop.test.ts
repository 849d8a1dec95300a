/**
 * Stopping the `tributary` command stops the pipeline, whichever Node.js started it.
 *
 * The command is started the way a service manager or a container entrypoint does — its
 * own process group, stdin from /dev/null, `<node> bin/tributary.js demo orders` — both
 * by an older Node.js (bin/tributary.js then launches the real process under the Node.js
 * 24 of the `node` package) and by Node.js 24 directly. Once the pipeline has committed,
 * one signal goes to the command (or to its whole process group, as Ctrl-C and systemd's
 * default KillMode=control-group do); then no process of the command may be left, and the
 * exit status must be the documented one (docs/cli.md, "Stopping").
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanup, deltaRsRead, pythonSkip, ROOT, tempDir } from '../interop/helpers.ts';
import { findOldNode, userEnv } from './node-helpers.ts';

const BIN = join(ROOT, 'bin', 'tributary.js');

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  start: string;
}

/** A process from /proc/PID/stat, or undefined once it is gone. */
function procStat(pid: number): Proc | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // pid (comm) state ppid ... starttime: comm may hold spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(rest[1]), state: rest[0], start: rest[19] };
}

/** Every process below `pid` (children, their children, ...). */
function descendants(pid: number): Proc[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => procStat(Number(name)))
    .filter((p) => p !== undefined);
  const found: Proc[] = [];
  const parents = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

/** Still running: the same process (same start time), not a zombie waiting to be reaped. */
function running(p: Proc): boolean {
  const now = procStat(p.pid);
  return now !== undefined && now.start === p.start && now.state !== 'Z';
}

// Processes a failing case left behind; killed when the file is done.
const leftovers: Proc[] = [];

interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function start(node: string, dataDir: string): Started {
  const env = userEnv();
  // As a service manager starts it: a process group of its own, no terminal, no stdin.
  const child = spawn(node, [BIN, 'demo', 'orders', '--data-dir', dataDir, '--rate', '300', '--seed', '7'], {
    cwd: dataDir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => out };
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number, onTimeout: () => string) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`${what}: ${onTimeout()}`);
    await sleep(50);
  }
}

interface Case {
  signal: NodeJS.Signals;
  /** 'command': kill PID; 'group': kill -PGID (Ctrl-C in a terminal; systemd's control-group kill). */
  to: 'command' | 'group';
  /** 'clean': the clean stop, exit code 0; otherwise the signal the command ends by. */
  expect: 'clean' | NodeJS.Signals;
}

const CASES: Case[] = [
  { signal: 'SIGTERM', to: 'command', expect: 'clean' },
  { signal: 'SIGINT', to: 'command', expect: 'clean' },
  { signal: 'SIGINT', to: 'group', expect: 'clean' },
  { signal: 'SIGTERM', to: 'group', expect: 'clean' },
  { signal: 'SIGKILL', to: 'command', expect: 'SIGKILL' },
  { signal: 'SIGHUP', to: 'command', expect: 'SIGHUP' },
];

const oldNode = findOldNode();
const linuxSkip = process.platform === 'linux' ? undefined : 'walks /proc (Linux only)';

const LAUNCHERS = [
  {
    name: 'started by an older Node.js (the launcher)',
    node: oldNode,
    skip: linuxSkip ?? (oldNode === undefined ? 'no Node.js older than 24 found' : undefined),
    cases: CASES,
  },
  // Node.js 24 runs the command in the one process: the same signals, no launcher.
  {
    name: 'started by Node.js 24',
    node: process.execPath,
    skip: linuxSkip,
    cases: CASES.filter((c) => c.to === 'group' || c.signal === 'SIGKILL' || c.signal === 'SIGTERM'),
  },
];

after(() => {
  for (const p of leftovers) if (running(p)) process.kill(p.pid, 'SIGKILL');
});

for (const launcher of LAUNCHERS) {
  describe(`tributary demo orders ${launcher.name}`, { skip: launcher.skip }, () => {
    for (const c of launcher.cases) {
      const name =
        `${c.signal} to the ${c.to === 'group' ? 'process group' : 'command'}: ` +
        (c.expect === 'clean' ? 'clean stop, exit code 0' : `ends by ${c.expect} at once`) +
        ', no process left';
      test(name, async () => {
        const dir = await tempDir('stop');
        const run = start(launcher.node!, dir);
        let below: Proc[] = [];
        try {
          // Wait until the pipeline has committed rows, so the stop has work to finish.
          await waitFor(
            'the pipeline did not commit',
            () => /committed [1-9]/.test(run.output()) || run.child.exitCode !== null,
            120_000,
            run.output,
          );
          assert.equal(run.child.exitCode, null, `the command ended early:\n${run.output()}`);
          const pid = run.child.pid!;
          below = descendants(pid);
          leftovers.push(...below);
          if (launcher.node !== process.execPath) {
            // The launcher runs the command in one child process, under Node.js 24.
            assert.equal(below.length, 1, `processes below the launcher: ${JSON.stringify(below)}`);
          }

          process.kill(c.to === 'group' ? -pid : pid, c.signal);
          const status = await Promise.race([
            run.exited,
            sleep(120_000, undefined, { ref: false }).then(() =>
              assert.fail(`the command did not end:\n${run.output()}`),
            ),
          ]);
          await waitFor(
            'processes left running after the command ended',
            () => below.every((p) => !running(p)),
            30_000,
            () => JSON.stringify(below.filter(running)),
          );

          if (c.expect !== 'clean') {
            assert.deepEqual(status, { code: null, signal: c.expect }, run.output());
            return;
          }
          assert.deepEqual(status, { code: 0, signal: null }, run.output());
          // The clean stop: the batch in flight finished, the final progress line printed,
          // and the table holds exactly the rows the pipeline counted as committed.
          const out = run.output();
          assert.equal(out.match(/stopping after the batch in flight/g)?.length, 1, out);
          const committed = [...out.matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
          const last = committed[committed.length - 1];
          if (pythonSkip() === undefined) {
            const table = await deltaRsRead(join(dir, 'tables', 'orders_events'));
            assert.equal(table.rows.length, last, out);
          }
        } finally {
          if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
          for (const p of below) if (running(p)) process.kill(p.pid, 'SIGKILL');
          await waitFor(
            'processes did not end after SIGKILL',
            () => !below.some(running),
            30_000,
            () => '',
          );
          await cleanup(dir);
        }
      });
    }
  });
}
