import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { errorResponse } from './errors.js';

// The web app's files from dist/board/, served as built (nothing fetched from anywhere else).
// Only plain file names under that directory are served; anything else under /api is a JSON 404.

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const SAFE_PATH = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Where the built web app is: beside the bundle (dist/bundle/*.js -> dist/board/) or the compiled
 * tree (dist/src/http/*.js -> dist/board/). Undefined when it was not built.
 */
export function findBoardDir(): string | undefined {
  for (const rel of ['../board/', '../../board/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

export function assetRoutes(app: Hono, dir: string | undefined): void {
  app.all('/api/*', (c) => errorResponse(c, 'NOT_FOUND', `no such API route: ${c.req.method} ${c.req.path}`));

  app.get('/*', async (c) => {
    if (dir === undefined) {
      return c.html(
        '<!doctype html><meta charset="utf-8"><title>Tasklane board not built</title>' +
          "<h1>The board's web app is not built</h1>" +
          '<p>Build it with <code>npm run build</code> (it writes dist/board/). The API under /api works without it.</p>',
        500,
      );
    }
    const path = c.req.path === '/' ? 'index.html' : c.req.path.slice(1);
    if (!SAFE_PATH.test(path)) return errorResponse(c, 'NOT_FOUND', `no such file: ${c.req.path}`);
    let body: Buffer;
    try {
      body = await readFile(join(dir, path));
    } catch {
      return errorResponse(c, 'NOT_FOUND', `no such file: ${c.req.path}`);
    }
    const type = TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
    return c.body(new Uint8Array(body), 200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  });
}
