import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LambdaEvent } from 'hono/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import type { Config } from '../../services/core/config.js';
import { createLogger } from '../../services/core/logger.js';
import { newId } from '../../services/core/ids.js';
import { UPLOAD_PREFIX, uploadKey } from '../../services/core/keys.js';
import { authHeader } from '../support/auth.js';
import { useLocalStack } from '../support/local-stack.js';
import { configFor, waitFor } from '../pipeline/support.js';

const stack = useLocalStack();
const logger = createLogger({ level: 'silent' });
let config: Config;
let deps: ReturnType<typeof createApiDeps>;
let app: ReturnType<typeof createApp>;
let webDir: string;
/** alice's Authorization header (a client-credentials token of the stack's OpenID provider). */
let alice: { authorization: string };

const json = (body: unknown, auth = alice) => ({ method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const get = (auth = alice) => ({ headers: auth });

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

beforeAll(async () => {
  webDir = await mkdtemp(path.join(tmpdir(), 'blipline-web-'));
  config = configFor(stack(), { BLIPLINE_MAX_UPLOAD_BYTES: '5000', BLIPLINE_WEB_DIR: webDir, BLIPLINE_ALLOWED_ORIGINS: 'http://page.test' });
  deps = createApiDeps(config, logger);
  app = createApp(deps);
  alice = await authHeader(stack(), 'alice');
});

afterAll(async () => {
  await deps?.close();
  await rm(webDir, { recursive: true, force: true });
});

describe('POST /v1/uploads', () => {
  it('creates an awaiting_upload record and a presigned PUT that S3 accepts for exactly that type and size', async () => {
    const res = await app.request('/v1/uploads', json({ contentType: 'image/png', contentLength: 4, filename: '../../etc/passwd' }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { imageId: string; upload: { method: string; url: string; headers: Record<string, string> }; expiresAt: string; statusUrl: string };
    expect(body.upload.method).toBe('PUT');
    expect(body.statusUrl).toBe(`/v1/images/${body.imageId}`);
    expect(new URL(body.upload.url).pathname).toContain(`${UPLOAD_PREFIX}${body.imageId}`);
    expect(new URL(body.upload.url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host;if-none-match');
    expect(body.upload.headers['If-None-Match']).toBe('*');
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(50_000);

    const status = await app.request(body.statusUrl, get());
    const record = (await status.json()) as Record<string, unknown>;
    expect(record).toMatchObject({ imageId: body.imageId, status: 'awaiting_upload', filename: 'passwd', contentType: 'image/png' });
    expect(record.sequencer).toBeUndefined();

    const wrongType = await fetch(body.upload.url, { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: new Uint8Array([1, 2, 3, 4]) });
    expect(wrongType.status).toBe(403);
    const wrongLength = await fetch(body.upload.url, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: new Uint8Array([1, 2, 3, 4, 5]) });
    expect(wrongLength.status).toBe(403);
    const ok = await fetch(body.upload.url, { method: 'PUT', headers: body.upload.headers, body: new Uint8Array([1, 2, 3, 4]) });
    expect(ok.status).toBe(200);
  });

  it('answers 403 from S3 once the URL has expired', async () => {
    const shortDeps = createApiDeps(configFor(stack(), { BLIPLINE_UPLOAD_EXPIRES_SECONDS: '1' }), logger);
    try {
      const res = await createApp(shortDeps).request('/v1/uploads', json({ contentType: 'image/jpeg', contentLength: 3 }));
      const body = (await res.json()) as { upload: { url: string; headers: Record<string, string> }; expiresAt: string };
      // Waits until the URL's expiry has passed by S3's one-second clock resolution (a condition, not a guess).
      const expired = Date.parse(body.expiresAt) + 1_000;
      await waitFor(async () => Date.now(), (now) => now > expired, 10_000, 'the URL to expire');
      const put = await fetch(body.upload.url, { method: 'PUT', headers: body.upload.headers, body: new Uint8Array([1, 2, 3]) });
      expect(put.status).toBe(403);
      expect(await put.text()).toMatch(/expired/i);
    } finally {
      await shortDeps.close();
    }
  });

  it('rejects bad bodies with a specific 4xx reason', async () => {
    const cases: [unknown, number, string][] = [
      ['{"contentType": "image/png",', 400, 'invalid_json'],
      [{ contentType: 'image/png' }, 400, 'invalid_request'],
      [{ contentType: 'image/png', contentLength: '12' }, 400, 'invalid_request'],
      [{ contentType: 'image/png', contentLength: 12, extra: true }, 400, 'invalid_request'],
      [{ contentType: 'image/png', contentLength: 0 }, 400, 'invalid_request'],
      [{ contentType: 'image/png', contentLength: 1.5 }, 400, 'invalid_request'],
      [{ contentType: 'text/plain', contentLength: 12 }, 415, 'unsupported_type'],
      [{ contentType: 'image/svg+xml', contentLength: 12 }, 415, 'unsupported_type'],
      [{ contentType: 'image/png', contentLength: 5001 }, 413, 'too_large'],
      [{ contentType: 'image/png', contentLength: 12, prompt: 'x'.repeat(201) }, 400, 'invalid_request'],
      ['x'.repeat(20_000), 413, 'body_too_large'],
    ];
    for (const [body, status, code] of cases) {
      const res = await app.request('/v1/uploads', json(body));
      const error = await errorOf(res);
      expect({ body: JSON.stringify(body).slice(0, 60), status: error.status, code: error.code }).toEqual({ body: JSON.stringify(body).slice(0, 60), status, code });
      expect(error.message.length).toBeGreaterThan(5);
    }
    const tooLarge = await errorOf(await app.request('/v1/uploads', json({ contentType: 'image/png', contentLength: 5001 })));
    expect(tooLarge.message).toContain('5000');
    const unknownField = await errorOf(await app.request('/v1/uploads', json({ contentType: 'image/png', contentLength: 12, extra: true })));
    expect(unknownField.message).toContain('extra');
  });

});

describe('status and question routes', () => {
  it('answers 404 for unknown ids and keys (malformed ids and traversal attempts are just unknown), 400 for a missing key', async () => {
    expect(await errorOf(await app.request('/v1/images/0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d', get()))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await errorOf(await app.request('/v1/images/nope', get()))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await errorOf(await app.request('/v1/images/..%2F..%2Fetc', get()))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await errorOf(await app.request('/v1/images/nope/questions/0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d', get()))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await errorOf(await app.request('/v1/images/0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d/questions/..%2F', get()))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await errorOf(await app.request('/v1/images/nope/questions', json({ question: 'what is it?' })))).toMatchObject({ status: 404, code: 'not_found' });
    const operator = await authHeader(stack(), 'operator');
    expect(await errorOf(await app.request('/v1/objects?key=nothing/here.jpg', get(operator)))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await errorOf(await app.request('/v1/objects', get(operator)))).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(await errorOf(await app.request('/v1/nope', get()))).toMatchObject({ status: 404, code: 'not_found' });
    const q = await app.request('/v1/images/0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d/questions', json({ question: 'what is it?' }));
    expect(await errorOf(q)).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('refuses questions about an image that was never uploaded', async () => {
    const vqaDeps = createApiDeps(configFor(stack(), { BLIPLINE_VQA_MODEL: 'some/vqa-model' }), logger);
    try {
      const vqaApp = createApp(vqaDeps);
      const created = (await (await vqaApp.request('/v1/uploads', json({ contentType: 'image/png', contentLength: 10 }))).json()) as { imageId: string };
      const res = await vqaApp.request(`/v1/images/${created.imageId}/questions`, json({ question: 'what is it?' }));
      expect(await errorOf(res)).toMatchObject({ status: 409, code: 'not_uploaded' });
      const bad = await vqaApp.request(`/v1/images/${created.imageId}/questions`, json({ question: '' }));
      expect(await errorOf(bad)).toMatchObject({ status: 400, code: 'invalid_request' });
    } finally {
      await vqaDeps.close();
    }
  });

  /** A record in status queued, as after its upload event was accepted. */
  async function queuedImage(records: ReturnType<typeof createApiDeps>['records']): Promise<string> {
    const imageId = newId();
    await records.createUpload({ imageId, owner: 'alice', objectKey: uploadKey(imageId), model: 'm', contentType: 'image/png', contentLength: 10 });
    await records.acceptObject({ imageId, objectKey: uploadKey(imageId), sequencer: '01', model: 'm', upload: true });
    return imageId;
  }

  it('answers 409 vqa_unavailable without writing a question when no VQA model is configured', async () => {
    const imageId = await queuedImage(deps.records);
    expect((await (await app.request('/v1/config')).json()) as object).toMatchObject({ questions: false });
    const res = await app.request(`/v1/images/${imageId}/questions`, json({ question: 'what is it?' }));
    expect(await errorOf(res)).toMatchObject({ status: 409, code: 'vqa_unavailable' });
  });

  it('marks the question failed and answers 503 when it cannot be queued', async () => {
    const env = stack().env();
    const missingQueue = `${env.BLIPLINE_QUESTION_QUEUE_URL.replace(/\/[^/]+$/, '')}/no-such-queue-${Date.now()}`;
    const brokenDeps = createApiDeps(configFor(stack(), { BLIPLINE_VQA_MODEL: 'some/vqa-model', BLIPLINE_QUESTION_QUEUE_URL: missingQueue }), logger);
    try {
      const brokenApp = createApp(brokenDeps);
      const imageId = await queuedImage(brokenDeps.records);
      const res = await brokenApp.request(`/v1/images/${imageId}/questions`, json({ question: 'what is it?' }));
      const error = await errorOf(res);
      expect(error).toMatchObject({ status: 503, code: 'queue_unavailable' });
      const questionId = /question ([0-9a-f-]{36})/.exec(error.message)?.[1] ?? '';
      const question = await app.request(`/v1/images/${imageId}/questions/${questionId}`, get());
      expect(await question.json()).toMatchObject({ questionId, status: 'failed', error: { code: 'enqueue_failed' } });
    } finally {
      await brokenDeps.close();
    }
  });

  it('serves health, config and CORS for the allowed origin', async () => {
    const health = await app.request('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const cfg = (await (await app.request('/v1/config')).json()) as Record<string, unknown>;
    expect(cfg).toMatchObject({ maxUploadBytes: 5000, uploadMethod: 'PUT', questions: false });
    expect(cfg.auth).toEqual({ mode: 'oidc', issuer: stack().oidc.issuer, clientId: stack().oidc.webClientId, scope: 'openid blipline/images', logoutUrl: null });
    const preflight = await app.request('/v1/uploads', { method: 'OPTIONS', headers: { Origin: 'http://page.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' } });
    expect(preflight.headers.get('Access-Control-Allow-Origin')).toBe('http://page.test');
    expect(preflight.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('authorization');
    const foreign = await app.request('/v1/config', { headers: { Origin: 'http://evil.test' } });
    expect(foreign.headers.get('Access-Control-Allow-Origin')).toBeNull();
    expect(health.headers.get('X-Request-Id')).toBeTruthy();
    expect((await app.request('/v1/config')).headers.get('Cache-Control')).toBe('no-store');
  });
});

describe('GET / (the upload page)', () => {
  it('answers a JSON 503 while the page is not built', async () => {
    const res = await app.request('/');
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('web_not_built');
  });

  it('serves the built page with content types and caching headers', async () => {
    await mkdir(path.join(webDir, 'assets'), { recursive: true });
    await writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>blipline</title>');
    await writeFile(path.join(webDir, 'assets', 'index-abc123.js'), 'console.log(1)');
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('Content-Type')).toMatch(/^text\/html/);
    expect(page.headers.get('Cache-Control')).toBe('no-cache');
    const csp = page.headers.get('Content-Security-Policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(new URL(stack().oidc.issuer).origin);
    expect(page.headers.get('Referrer-Policy')).toBe('no-referrer');
    expect(page.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(await page.text()).toContain('blipline');
    const asset = await app.request('/assets/index-abc123.js');
    expect(asset.headers.get('Content-Type')).toMatch(/javascript/);
    expect(asset.headers.get('Cache-Control')).toContain('immutable');
    expect((await app.request('/assets/missing.js')).status).toBe(404);
  });
});

function httpApiEvent(method: string, path: string, body?: unknown, auth?: { authorization: string }): LambdaEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'api.example', ...auth },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example',
      domainPrefix: 'api',
      authentication: null,
      authorizer: {},
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'test' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '27/Nov/2026:12:00:00 +0000',
      timeEpoch: Date.now(),
    },
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

describe('Lambda handler', () => {
  it('serves the same app behind API Gateway HTTP API events', async () => {
    Object.assign(process.env, stack().env(), { LOG_LEVEL: 'silent', BLIPLINE_WEB_DIR: webDir });
    const { handler } = await import('../../services/api/lambda.js');
    const health = await handler(httpApiEvent('GET', '/healthz'));
    expect(health.statusCode).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    const anonymous = await handler(httpApiEvent('POST', '/v1/uploads', { contentType: 'image/webp', contentLength: 100 }));
    expect(anonymous.statusCode).toBe(401);
    const created = await handler(httpApiEvent('POST', '/v1/uploads', { contentType: 'image/webp', contentLength: 100 }, alice));
    expect(created.statusCode).toBe(201);
    const body = JSON.parse(created.body) as { imageId: string; upload: { url: string } };
    expect(body.upload.url).toContain(`uploads/${body.imageId}`);
    const bad = await handler(httpApiEvent('POST', '/v1/uploads', { contentType: 'text/html', contentLength: 100 }, alice));
    expect(bad.statusCode).toBe(415);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'unsupported_type' } });
  });
});
