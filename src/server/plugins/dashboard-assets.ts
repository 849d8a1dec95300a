/**
 * The dashboard's web page: the files of src/ui (HTML, a few JavaScript modules, CSS)
 * and uPlot's script and stylesheet from its package, served by this server (no CDN, no
 * build step). Read once at start, each kept with its gzip form and an ETag. Public: the
 * page holds no data; it asks the API for it with the reader's token.
 *
 * The page's Content-Security-Policy allows only this server's own scripts, styles and
 * connections: no inline script, nothing from elsewhere.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TributaryError } from '../../core/errors.ts';

export const UI_PREFIX = '/ui';

const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

function asset(name: string, body: Buffer): Asset {
  return {
    type: TYPES[extname(name)] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

/** The page's files by URL name: src/ui's, and uPlot's under vendor/. */
export function loadAssets(dir = UI_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    if (TYPES[extname(name)] === undefined) continue;
    assets.set(name, asset(name, readFileSync(join(dir, name))));
  }
  const require = createRequire(import.meta.url);
  for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) {
    assets.set(`vendor/${file}`, asset(file, readFileSync(require.resolve(`uplot/dist/${file}`))));
  }
  return assets;
}

function send(req: FastifyRequest, reply: FastifyReply, a: Asset): FastifyReply {
  reply
    .header('content-type', a.type)
    .header('etag', a.etag)
    // Revalidated each time (a 304 is cheap), so a new version of the server is picked up at once.
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('vary', 'accept-encoding');
  if (a.type.startsWith('text/html')) reply.header('content-security-policy', UI_CSP);
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    return reply.header('content-encoding', 'gzip').send(a.gzip);
  }
  return reply.send(a.body);
}

export async function dashboardAssets(app: FastifyInstance): Promise<void> {
  const assets = loadAssets();
  const index = assets.get('index.html')!;
  const hidden = { hide: true } as const;
  app.get('/', { schema: hidden, config: { public: true } }, async (_req, reply) =>
    reply.redirect(`${UI_PREFIX}/`),
  );
  app.get(UI_PREFIX, { schema: hidden, config: { public: true } }, async (_req, reply) =>
    reply.redirect(`${UI_PREFIX}/`),
  );
  app.get(`${UI_PREFIX}/`, { schema: hidden, config: { public: true } }, async (req, reply) =>
    send(req, reply, index),
  );
  app.get<{ Params: { '*': string } }>(
    `${UI_PREFIX}/*`,
    { schema: hidden, config: { public: true } },
    async (req, reply) => {
      const a = assets.get(req.params['*']);
      if (a === undefined) {
        throw new TributaryError(
          'HTTP_NOT_FOUND',
          `no file ${UI_PREFIX}/${req.params['*']}: the dashboard is at ${UI_PREFIX}/`,
        );
      }
      return send(req, reply, a);
    },
  );
}
