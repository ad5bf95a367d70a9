import { existsSync } from 'node:fs';
import path from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../core/config.js';
import { ApiError } from './errors.js';

/**
 * The page's Content-Security-Policy: its own scripts and styles only, never framed. It talks to the API
 * (same origin), the bucket (presigned PUT) and the identity provider (discovery, token endpoint): on AWS
 * those are https origins; locally the emulator's and the provider's http origins are named.
 */
export function contentSecurityPolicy(config: Pick<Config, 'auth' | 's3Endpoint'>): string {
  const origins = new Set<string>(["'self'", 'https:']);
  for (const url of [config.s3Endpoint, config.auth.mode === 'oidc' ? config.auth.issuer : undefined]) {
    if (url?.startsWith('http:')) origins.add(new URL(url).origin);
  }
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    `connect-src ${[...origins].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');
}

/**
 * Serves the built upload page (Vite output) from `webDir`: hashed files under /assets/ are cached
 * for a year (immutable), everything else (index.html) is revalidated on every load; every answer carries the
 * page's security headers. When the page was not built the answer is a JSON 503 saying how to build it.
 */
export function webPage(config: Pick<Config, 'webDir' | 'auth' | 's3Endpoint'>): MiddlewareHandler {
  const root = path.resolve(config.webDir);
  const serve = serveStatic({ root });
  const csp = contentSecurityPolicy(config);
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
      res.headers.set('Content-Security-Policy', csp);
      res.headers.set('Referrer-Policy', 'no-referrer');
      res.headers.set('X-Frame-Options', 'DENY');
    }
    return res;
  };
}
