import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, parseRetryAfter } from '../../services/web/src/api/client.js';
import { ApiError, WebError } from '../../services/web/src/errors.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Answers of the HTTP API contract (DESIGN.md), one per route, to check the client's reading of them. */
const routes: Record<string, Handler> = {
  'POST /v1/uploads': (_req, body, res) => {
    const request = JSON.parse(body) as { contentLength: number; contentType: string };
    if (request.contentLength > 100) return json(res, 413, { error: { code: 'too_large', message: 'at most 100 bytes' } });
    if (!request.contentType.startsWith('image/')) return json(res, 415, { error: { code: 'unsupported_type', message: 'images only' } });
    json(res, 201, {
      imageId: 'img-1',
      upload: { method: 'PUT', url: 'http://s3.local/b/uploads/img-1?X-Amz-Signature=x', headers: { 'Content-Type': 'image/png', 'Content-Length': '50' } },
      expiresAt: '2026-11-27T13:05:00Z',
      statusUrl: '/v1/images/img-1',
    });
  },
  'GET /v1/images/img-1': (_req, _body, res) => json(res, 200, { imageId: 'img-1', status: 'processing', model: 'm' }),
  'GET /v1/images/bad': (_req, _body, res) => json(res, 200, { imageId: 'bad', status: 'weird' }),
  'GET /v1/images/missing': (_req, _body, res) => json(res, 404, { error: { code: 'not_found', message: 'no such image' } }),
  'GET /v1/images/busy': (_req, _body, res) =>
    json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '3' }),
  'GET /v1/images/gateway': (_req, _body, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html>Bad Gateway</html>');
  },
  'POST /v1/images/img-1/questions': (_req, _body, res) => json(res, 202, { questionId: 'q-1', statusUrl: '/v1/images/img-1/questions/q-1' }),
  'GET /v1/images/img-1/questions/q-1': (_req, _body, res) => json(res, 200, { questionId: 'q-1', status: 'done', answer: 'two' }),
  'DELETE /v1/images/img-1': (_req, _body, res) => {
    res.writeHead(204);
    res.end();
  },
  'DELETE /v1/images/broken': (_req, _body, res) => json(res, 500, { error: { code: 'internal', message: 'try later (request r-1)' } }),
  // Like the API: a valid bearer token or a 401 with WWW-Authenticate; /v1/config is open.
  'GET /v1/images/private': (req, _body, res) =>
    req.headers.authorization === 'Bearer token-1'
      ? json(res, 200, { imageId: 'private', status: 'queued' })
      : json(res, 401, { error: { code: 'unauthorized', message: 'the token has expired' } }, { 'www-authenticate': 'Bearer error="invalid_token"' }),
  'GET /v1/config': (req, _body, res) =>
    json(res, 200, {
      maxUploadBytes: 100,
      sentAuthorization: req.headers.authorization ?? null,
      auth: { mode: 'oidc', issuer: 'http://127.0.0.1:9/', clientId: 'web', scope: 'openid blipline/images', logoutUrl: null },
    }),
};

/** Authorization headers the server received, in order. */
const authorizations: (string | null)[] = [];

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      authorizations.push(req.headers.authorization ?? null);
      const handler = routes[`${req.method} ${req.url}`];
      if (handler === undefined) return json(res, 404, { error: { code: 'not_found', message: 'no route' } });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function failure(promise: Promise<unknown>): Promise<WebError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WebError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('API client', () => {
  it('creates uploads and reads records, questions and answers', async () => {
    const api = new ApiClient({ base });
    const created = await api.createUpload({ contentType: 'image/png', contentLength: 50, filename: 'a.png' });
    expect(created.imageId).toBe('img-1');
    expect(created.upload.method).toBe('PUT');
    expect((await api.image('img-1')).status).toBe('processing');
    expect((await api.ask('img-1', 'how many?')).questionId).toBe('q-1');
    expect((await api.question('img-1', 'q-1')).answer).toBe('two');
  });

  it('returns null config when the API has no /v1/config', async () => {
    const closed = createServer((_req, res) => json(res, 404, { error: { code: 'not_found', message: 'no route' } }));
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    try {
      expect(await new ApiClient({ base: `http://127.0.0.1:${(closed.address() as AddressInfo).port}` }).config()).toBeNull();
    } finally {
      await new Promise<void>((resolve) => closed.close(() => resolve()));
    }
  });

  it('reads how to sign in from /v1/config, asked without a token', async () => {
    let asked = 0;
    const config = await new ApiClient({ base, token: () => { asked += 1; return 'token-1'; } }).config();
    expect(config?.auth).toEqual({ mode: 'oidc', issuer: 'http://127.0.0.1:9/', clientId: 'web', scope: 'openid blipline/images', logoutUrl: null });
    expect(config?.['sentAuthorization']).toBeNull();
    expect(asked).toBe(0);
  });

  it('sends the provider\'s token as a bearer token on every other call', async () => {
    authorizations.length = 0;
    const api = new ApiClient({ base, token: async () => 'token-1' });
    await api.createUpload({ contentType: 'image/png', contentLength: 50 });
    expect((await api.image('private')).status).toBe('queued');
    await api.ask('img-1', 'how many?');
    await api.question('img-1', 'q-1');
    await api.remove('img-1');
    expect(authorizations).toEqual(Array.from({ length: 5 }, () => 'Bearer token-1'));
    // No provider (anonymous mode), or no token yet: no header at all.
    authorizations.length = 0;
    await new ApiClient({ base }).image('img-1');
    await new ApiClient({ base, token: () => null }).image('img-1');
    expect(authorizations).toEqual([null, null]);
  });

  it('reports a 401 as unauthorized, and tells the page once per refused call', async () => {
    const refused: ApiError[] = [];
    const api = new ApiClient({ base, token: () => 'expired', onUnauthorized: (error) => refused.push(error) });
    const error = await failure(api.image('private'));
    expect(error.code).toBe('unauthorized');
    expect(error.message).toBe('the token has expired');
    expect(refused).toEqual([error]);
    // Other failures are not a reason to sign in again.
    await failure(api.image('missing'));
    expect(refused).toHaveLength(1);
  });

  it('deletes an image (204, no body) and reports a refused delete', async () => {
    const api = new ApiClient({ base });
    await expect(api.remove('img-1')).resolves.toBeUndefined();
    const refused = await failure(api.remove('broken'));
    expect(refused.code).toBe('api_error');
    expect(refused.message).toBe('try later (request r-1)');
    expect((await failure(api.remove('missing'))).code).toBe('not_found');
  });

  it('maps API errors to codes the page understands', async () => {
    const api = new ApiClient({ base });
    const tooLarge = await failure(api.createUpload({ contentType: 'image/png', contentLength: 101 }));
    expect(tooLarge.code).toBe('too_large');
    expect(tooLarge.message).toBe('at most 100 bytes');
    expect((await failure(api.createUpload({ contentType: 'text/plain', contentLength: 1 }))).code).toBe('not_an_image');
    expect((await failure(api.image('missing'))).code).toBe('not_found');
    expect((await failure(api.image('bad'))).code).toBe('bad_response');
    expect((await failure(api.image('gateway'))).code).toBe('api_unreachable');
    const busy = await failure(api.image('busy'));
    expect(busy).toBeInstanceOf(ApiError);
    expect(busy.code).toBe('api_error');
    expect((busy as ApiError).retryAfterMs).toBe(3000);
  });

  it('reports an API that does not answer as unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failure(new ApiClient({ base: `http://127.0.0.1:${port}` }).image('img-1'));
    expect(error.code).toBe('api_unreachable');
  });

  it('reads Retry-After in seconds or as a date', () => {
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 13:00:10 GMT', Date.parse('2026-11-27T13:00:00Z'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeNull();
  });
});
