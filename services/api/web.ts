import { existsSync } from 'node:fs';
import path from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';

/**
 * Serves the built upload page (Vite output) from `webDir`: hashed files under /assets/ are cached
 * for a year (immutable), everything else (index.html) is revalidated on every load. When the page
 * was not built the answer is a JSON 503 saying how to build it.
 */
export function webPage(webDir: string): MiddlewareHandler {
  const root = path.resolve(webDir);
  const serve = serveStatic({ root });
  return async (c, next) => {
    if (!existsSync(path.join(root, 'index.html'))) {
      if (c.req.path === '/' || c.req.path === '/index.html') {
        throw new ApiError(503, 'web_not_built', `the upload page is not built (no ${path.join(root, 'index.html')}); run \`npm run build:web\` or set BLIPLINE_WEB_DIR`);
      }
      return next();
    }
    const res = await serve(c, next);
    if (res instanceof Response && res.ok) {
      res.headers.set('Cache-Control', c.req.path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      res.headers.set('X-Content-Type-Options', 'nosniff');
    }
    return res;
  };
}
