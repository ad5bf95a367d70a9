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
};

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
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
    expect(await new ApiClient({ base }).config()).toBeNull();
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
