/**
 * Shared by the serving layer's tests: a server on a free port over a temporary data
 * directory, with an HS256 secret of its own; tokens for it; plain HTTP calls whose JSON
 * answers keep big integers exact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from '../../src/server/app.ts';
import type { Role } from '../../src/server/auth/roles.ts';
import { createToken } from '../../src/server/auth/token.ts';
import { createVerifier, type VerifierOptions } from '../../src/server/auth/verify.ts';
import type { ServerOptions } from '../../src/server/options.ts';
import { parseJsonExact } from '../interop/helpers.ts';

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory, removed when the test process exits. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tributary-server-${label}-`));
  made.push(dir);
  return dir;
}

export const SECRET = new TextEncoder().encode('a test secret of at least thirty-two bytes');

export interface Running {
  url: string;
  server: Server;
  dataDir: string;
  /** A token signed with the server's secret. */
  token(role: Role, opts?: { ttlSeconds?: number; now?: number; subject?: string }): Promise<string>;
  stop(): Promise<void>;
}

export async function startServer(
  opts: Partial<ServerOptions> & { dataDir?: string; verifier?: VerifierOptions } = {},
): Promise<Running> {
  const dataDir = opts.dataDir ?? tempDir('data');
  const auth = opts.auth ?? {
    mode: 'jwt' as const,
    verifier: createVerifier(opts.verifier ?? { secret: SECRET, secretSource: 'the test' }),
  };
  const lines: string[] = [];
  const server = createServer({ log: (l) => lines.push(l), ...opts, dataDir, auth, port: 0 });
  const url = await server.start();
  return {
    url,
    server,
    dataDir,
    async token(role, t = {}) {
      return (
        await createToken({
          key: SECRET,
          role,
          ttlSeconds: t.ttlSeconds ?? 600,
          now: t.now,
          subject: t.subject,
        })
      ).token;
    },
    stop: () => server.stop(),
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: whatever JSON the server answers
  body: any;
}

/** One HTTP request; `token` as a bearer token, `auth` as the raw Authorization header. */
export async function call(
  url: string,
  path: string,
  opts: {
    token?: string;
    auth?: string;
    method?: string;
    body?: unknown;
    rawBody?: string;
    contentType?: string;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.auth !== undefined) headers.authorization = opts.auth;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(`${url}${path}`, {
    method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = parseJsonExact(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}
