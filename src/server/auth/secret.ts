/**
 * The HS256 secret: given (`--jwt-secret`, $TRIBUTARY_JWT_SECRET), or kept in the data
 * directory's `server/jwt-secret`, generated on first use (32 random bytes as base64url
 * text, readable by its owner only). The key is always the UTF-8 bytes of the secret's
 * text, so the file's content given as `--jwt-secret` verifies the same tokens.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { TributaryError } from '../../core/errors.ts';

export const SECRET_FILE = join('server', 'jwt-secret');
/** HS256 wants a key at least as long as its hash: 256 bits. */
export const MIN_SECRET_BYTES = 32;

export interface Secret {
  key: Uint8Array;
  /** Where it came from, for messages: `--jwt-secret`, `$TRIBUTARY_JWT_SECRET`, a file's path. */
  source: string;
}

function keyOf(text: string, source: string): Secret {
  const key = new TextEncoder().encode(text);
  if (key.length < MIN_SECRET_BYTES) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `the JWT secret from ${source} is ${key.length} bytes; HS256 needs at least ${MIN_SECRET_BYTES} (for instance: openssl rand -base64 32)`,
      { source },
    );
  }
  return { key, source };
}

function secretPath(dataDir: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dataDir) && !/^file:\/\//i.test(dataDir)) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `the data directory ${dataDir} is not local, so no secret file is kept there: give --jwt-secret or $TRIBUTARY_JWT_SECRET`,
      { dataDir },
    );
  }
  const base = /^file:\/\//i.test(dataDir) ? new URL(dataDir).pathname : resolve(dataDir);
  return join(base, SECRET_FILE);
}

/**
 * The secret to sign and verify with: `explicit` (a flag's value) first, then the
 * environment, then the data directory's file. `create: false` returns undefined instead
 * of generating a missing file.
 */
export async function loadSecret(opts: {
  explicit?: string;
  dataDir: string;
  create: boolean;
  env?: NodeJS.ProcessEnv;
}): Promise<Secret | undefined> {
  if (opts.explicit !== undefined) return keyOf(opts.explicit, '--jwt-secret');
  const fromEnv = (opts.env ?? process.env).TRIBUTARY_JWT_SECRET;
  if (fromEnv) return keyOf(fromEnv, '$TRIBUTARY_JWT_SECRET');
  const path = secretPath(opts.dataDir);
  const read = async () => keyOf((await fs.readFile(path, 'utf8')).trim(), path);
  try {
    return await read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!opts.create) return undefined;
  await fs.mkdir(join(path, '..'), { recursive: true });
  try {
    // 'wx': two processes starting at once both end up with the one that won.
    await fs.writeFile(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return read();
}
