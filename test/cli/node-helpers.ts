/** Shared by the tests that run the `tributary` command as users and services start it. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * A Node.js older than 24 (the machine's own, as a service manager or a shell runs it):
 * $TRIBUTARY_TEST_OLD_NODE, else the first one on PATH or in /usr/local/bin, /usr/bin.
 */
export function findOldNode(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/bin', '/usr/bin'];
  const candidates = [process.env.TRIBUTARY_TEST_OLD_NODE, ...dirs.map((d) => join(d, 'node'))];
  for (const c of candidates) {
    if (c === undefined || !existsSync(c)) continue;
    try {
      const version = execFileSync(c, ['--version'], { encoding: 'utf8' }).trim();
      if (Number(version.replace(/^v/, '').split('.')[0]) < 24) return c;
    } catch {}
  }
  return undefined;
}

/** The environment of a user's shell: no Tributary settings, nothing an `npm test` run set. */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('npm_') || name.startsWith('TRIBUTARY_')) delete env[name];
  }
  return env;
}
