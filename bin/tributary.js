#!/usr/bin/env node
// The `tributary` command.
//
// Node.js 24 runs the command in this process: the TypeScript sources in a checkout, or the
// JavaScript built into dist/ when the package was packed (Node.js does not strip types
// under node_modules, where an installed package lives).
//
// Started by an older Node.js (a machine's own, as a service manager, a container
// entrypoint or a shell may do), this file is a launcher: it runs itself again under the
// Node.js 24 of the npm `node` package that Tributary depends on, and stays in between
// so that stopping the command stops the pipeline (docs/cli.md, "Stopping"):
// - SIGINT, SIGTERM and SIGHUP are passed on to the child;
// - the child's exit code is the launcher's; a child ended by a signal ends the launcher
//   by the same signal;
// - the child has an IPC channel to the launcher and ends itself at once when it closes,
//   so killing the launcher (SIGKILL included) never leaves a pipeline running.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import module, { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(dirname(SELF), '..');
// Set by the launcher in the child's environment: the child watches its IPC channel.
const LAUNCHED = 'TRIBUTARY_LAUNCHER_CHANNEL';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The Node.js 24 binary of the npm `node` package, resolved as Node.js resolves packages. */
function node24() {
  try {
    const pkgFile = createRequire(import.meta.url).resolve('node/package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    const bin = join(dirname(pkgFile), typeof pkg.bin === 'string' ? pkg.bin : pkg.bin.node);
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

function launch() {
  const node = node24();
  if (node === undefined) {
    console.error(
      `tributary needs Node.js 24 or newer (this is ${process.version}), which comes with its ` +
        `dependency 'node'; run 'npm install' first.`,
    );
    process.exit(1);
  }
  const child = spawn(node, [SELF, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [LAUNCHED]: '1' },
  });
  // The child may get the same signal directly too (Ctrl-C reaches the whole foreground
  // process group); the commands take a repeat within a second as the same request.
  const forward = (signal) => child.kill(signal);
  for (const s of FORWARDED) process.on(s, forward);
  child.on('error', (err) => {
    console.error(`tributary: could not start ${node}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Ended by a signal: end the same way, as shells and service managers expect.
    for (const s of FORWARDED) process.off(s, forward);
    process.kill(process.pid, signal);
    // A signal whose default action does not end a Node.js process (SIGPIPE is ignored):
    // the shell's convention for it.
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 100);
  });
}

/** In a process started by the launcher: end at once when the launcher is gone. */
function watchLauncher() {
  if (process.env[LAUNCHED] === undefined) return;
  delete process.env[LAUNCHED];
  if (process.channel === undefined) return;
  // The channel closes only when the launcher ends, and the launcher ends only after this
  // process, unless it was killed: no clean stop then (SIGKILL allows none to the launcher
  // either), and no second pipeline left running next to the one the next start begins.
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  // Watching the channel must not keep the process alive once the command is done.
  process.channel.unref();
}

/** The command's entry: the sources in a checkout, dist/ in an installed package. */
function entry() {
  const sources = join(ROOT, 'src', 'cli', 'main.ts');
  if (existsSync(sources) && !ROOT.split(sep).includes('node_modules')) return sources;
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  if (existsSync(built)) return built;
  console.error(
    `tributary: ${ROOT} holds neither the sources (src/) nor the built package (dist/); ` +
      `install the package from npm or a packed tarball ('npm pack' builds dist/).`,
  );
  process.exit(1);
}

if (Number(process.versions.node.split('.')[0]) < 24) {
  launch();
} else {
  watchLauncher();
  // V8's compiled code of our modules, kept on disk (under the OS's temporary directory,
  // or $NODE_COMPILE_CACHE): a start reuses it instead of compiling ~400 modules again,
  // about 0.5 CPU-seconds less per process (each worker of a group is one). Entries are
  // checked against the source, so a changed file is compiled afresh.
  module.enableCompileCache?.();
  await import(pathToFileURL(entry()).href);
}
