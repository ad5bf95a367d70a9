import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import { errorSchema, ownerImageSchema, questionViewSchema, uploadResponseSchema } from '../../services/api/routes.js';
import { createLogger } from '../../services/core/logger.js';
import { uploadKey } from '../../services/core/keys.js';
import { authHeader } from '../support/auth.js';
import { useLocalStack } from '../support/local-stack.js';
import { configFor } from '../pipeline/support.js';

const stack = useLocalStack();
let deps: ReturnType<typeof createApiDeps>;
let app: ReturnType<typeof createApp>;
let doc: { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { example?: unknown }> }; responses: Record<string, unknown>; security?: unknown[] }>> };

beforeAll(async () => {
  deps = createApiDeps(configFor(stack(), { BLIPLINE_VQA_MODEL: 'some/vqa-model' }), createLogger({ level: 'silent' }));
  app = createApp(deps);
  const res = await app.request('/v1/openapi.json');
  expect(res.status).toBe(200);
  doc = (await res.json()) as typeof doc;
});
afterAll(() => deps?.close());

/** `/v1/images/{imageId}` as hono writes it: `/v1/images/:imageId`. */
const honoPath = (openapiPath: string) => openapiPath.replace(/\{([^}]+)\}/g, ':$1');

describe('GET /v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (checked by a maintained validator), served without a token', async () => {
    expect((doc as unknown as { openapi: string }).openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? [] : compileErrors(result)).toEqual([]);
  });

  it('describes every route the app serves, and serves every route it describes', () => {
    const served = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && (r.path.startsWith('/v1/') || r.path === '/healthz') && r.path !== '/v1/openapi.json')
        .map((r) => `${r.method} ${r.path}`),
    );
    const described = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${honoPath(path)}`)));
    expect(served.size).toBeGreaterThanOrEqual(8);
    expect([...described].sort()).toEqual([...served].sort());
  });

  it('names the bearer scheme on every route but the open ones, and documents each error status with the error body', () => {
    const open = new Set(['GET /healthz', 'GET /v1/config']);
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ id: `${method.toUpperCase()} ${path}`, op })));
    expect(operations.length).toBeGreaterThanOrEqual(8);
    for (const { id, op } of operations) {
      expect({ id, secured: op.security !== undefined }).toEqual({ id, secured: !open.has(id) });
      if (!open.has(id)) for (const status of ['401', '403', '404', '503'].filter((s) => id !== 'POST /v1/uploads' || s !== '404')) expect(op.responses, `${id} ${status}`).toHaveProperty(status);
    }
  });
});

describe('the documented examples, replayed against the local stack', () => {
  it('each answers with a documented status and a body of its documented schema', async () => {
    const alice = await authHeader(stack(), 'alice');
    const post = (path: string, body: unknown) => app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...alice }, body: JSON.stringify(body) });
    const documented = (path: string, method: string, status: number) => Object.keys(doc.paths[path]?.[method]?.responses ?? {}).includes(String(status));

    const uploadExample = doc.paths['/v1/uploads']?.post?.requestBody?.content['application/json']?.example;
    expect(uploadExample).toBeDefined();
    const created = await post('/v1/uploads', uploadExample);
    expect(documented('/v1/uploads', 'post', created.status)).toBe(true);
    const upload = uploadResponseSchema.parse(await created.json());

    const image = await app.request(`/v1/images/${upload.imageId}`, { headers: alice });
    expect(documented('/v1/images/{imageId}', 'get', image.status)).toBe(true);
    ownerImageSchema.parse(await image.json());

    const askExample = doc.paths['/v1/images/{imageId}/questions']?.post?.requestBody?.content['application/json']?.example;
    expect(askExample).toBeDefined();
    const early = await post(`/v1/images/${upload.imageId}/questions`, askExample);
    expect([early.status, documented('/v1/images/{imageId}/questions', 'post', early.status)]).toEqual([409, true]);
    errorSchema.parse(await early.json());
    await deps.records.acceptObject({ imageId: upload.imageId, objectKey: uploadKey(upload.imageId), sequencer: '01', model: 'm', upload: true });
    const asked = await post(`/v1/images/${upload.imageId}/questions`, askExample);
    expect(asked.status).toBe(202);
    const { statusUrl } = (await asked.json()) as { statusUrl: string };
    const question = await app.request(statusUrl, { headers: alice });
    expect(documented('/v1/images/{imageId}/questions/{questionId}', 'get', question.status)).toBe(true);
    questionViewSchema.parse(await question.json());

    const removed = await app.request(`/v1/images/${upload.imageId}`, { method: 'DELETE', headers: alice });
    expect([removed.status, documented('/v1/images/{imageId}', 'delete', removed.status)]).toEqual([204, true]);
  });
});
