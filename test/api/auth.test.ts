import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import { idForObjectKey } from '../../services/core/ids.js';
import { createLogger } from '../../services/core/logger.js';
import { repoRoot } from '../../services/core/paths.js';
import { authHeader } from '../support/auth.js';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';
import { configFor } from '../pipeline/support.js';

// The provider signs with a key this test knows, so it can also sign tokens that must be refused.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
const stack = useLocalStack({ oidcSigningKey: signingKey });
const clients = useLocalClients(stack);
const logger = createLogger({ level: 'silent' });
let deps: ReturnType<typeof createApiDeps>;
let prefix: string;
let app: ReturnType<typeof createApp>;
let alice: { authorization: string };
let bob: { authorization: string };
let operator: { authorization: string };

beforeAll(async () => {
  const config = configFor(stack(), { BLIPLINE_VQA_MODEL: 'some/vqa-model' });
  prefix = config.redisKeyPrefix;
  deps = createApiDeps(config, logger);
  app = createApp(deps);
  [alice, bob, operator] = await Promise.all([authHeader(stack(), 'alice'), authHeader(stack(), 'bob'), authHeader(stack(), 'operator')]);
});
afterAll(() => deps?.close());

const post = (body: unknown, auth: Record<string, string>) => ({ method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify(body) });
const upload = (auth: Record<string, string>, a = app) => a.request('/v1/uploads', post({ contentType: 'image/png', contentLength: 10 }, auth));

/** A token signed like the provider's, with the claims changed. */
async function token(claims: Record<string, unknown>, options: { key?: Parameters<SignJWT['sign']>[0]; kid?: string; alg?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { issuer, audience } = stack().oidc;
  return new SignJWT({ iss: issuer, aud: audience, sub: 'alice', iat: now, exp: now + 300, scope: 'blipline/images', client_id: 'alice', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'test-key', typ: 'at+jwt' })
    .sign(options.key ?? privateKey);
}

describe('identity: bearer tokens of the OpenID issuer', () => {
  it('accepts a valid token and refuses every broken one with a 401, a reason and WWW-Authenticate', async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = await generateKeyPair('RS256');
    const real = (await authHeader(stack(), 'alice')).authorization.slice('Bearer '.length);
    const [head, payload, signature] = real.split('.') as [string, string, string];
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'bob' })).toString('base64url')}.${signature}`;
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['missing', {}, /bearer token is required/],
      ['not bearer', { authorization: 'Basic YWxpY2U6cHc=' }, /not a bearer token/],
      ['garbage', { authorization: 'Bearer not.a.jwt' }, /malformed/],
      ['expired', { authorization: `Bearer ${await token({ exp: now - 120, iat: now - 600 })}` }, /expired/],
      ['not yet valid', { authorization: `Bearer ${await token({ nbf: now + 600 })}` }, /not valid yet/],
      ['wrong issuer', { authorization: `Bearer ${await token({ iss: 'https://issuer.example' })}` }, /another issuer/],
      ['wrong audience', { authorization: `Bearer ${await token({ aud: 'urn:someone:else' })}` }, /another audience/],
      ['tampered', { authorization: `Bearer ${tampered}` }, /signature is invalid/],
      ['wrong key, same kid', { authorization: `Bearer ${await token({}, { key: other.privateKey })}` }, /signature is invalid/],
      ['unknown kid', { authorization: `Bearer ${await token({}, { key: other.privateKey, kid: 'elsewhere' })}` }, /not signed by one of the issuer's keys/],
      ['an ID token', { authorization: `Bearer ${await token({ token_use: 'id' })}` }, /not an access token/],
    ];
    for (const [what, auth, reason] of cases) {
      const res = await upload(auth);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect({ what, status: res.status }).toEqual({ what, status: 401 });
      expect(res.headers.get('WWW-Authenticate'), what).toMatch(/^Bearer realm="blipline"/);
      expect(body.error.message, what).toMatch(reason);
    }
    expect((await upload({ authorization: `Bearer ${await token({})}` })).status).toBe(201);
    expect((await upload({ authorization: `Bearer ${real}` })).status).toBe(201);
  });

  it('answers 403 insufficient_scope to a token without the route scope', async () => {
    const res = await upload({ authorization: `Bearer ${await token({ scope: 'openid' })}` });
    expect(res.status).toBe(403);
    expect(res.headers.get('WWW-Authenticate')).toContain('error="insufficient_scope"');
    const operatorUpload = await upload(operator);
    expect(operatorUpload.status).toBe(403);
  });

  it('keeps /healthz and GET /v1/config open, every other /v1 route closed', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/v1/config')).status).toBe(200);
    const id = '0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d';
    for (const [method, path] of [
      ['GET', `/v1/images/${id}`],
      ['DELETE', `/v1/images/${id}`],
      ['POST', `/v1/images/${id}/questions`],
      ['GET', `/v1/images/${id}/questions/${id}`],
      ['GET', '/v1/objects?key=a'],
      ['POST', '/v1/uploads'],
      ['GET', '/v1/nope'],
    ] as const) {
      expect({ method, path, status: (await app.request(path, { method })).status }).toEqual({ method, path, status: 401 });
    }
  });
});

describe('ownership', () => {
  it("answers another owner's ids exactly as unknown ones, for reads, questions and deletes", async () => {
    const created = (await (await upload(alice)).json()) as { imageId: string };
    const unknown = '0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d';
    const asBob = async (id: string) => [
      await app.request(`/v1/images/${id}`, { headers: bob }),
      await app.request(`/v1/images/${id}`, { method: 'DELETE', headers: bob }),
      await app.request(`/v1/images/${id}/questions`, post({ question: 'what is it?' }, bob)),
    ];
    const foreign = await asBob(created.imageId);
    const missing = await asBob(unknown);
    for (let i = 0; i < foreign.length; i += 1) {
      const a = foreign[i]!;
      const b = missing[i]!;
      expect(a.status).toBe(404);
      expect(b.status).toBe(404);
      const bodyA = ((await a.json()) as { error: { message: string } }).error.message.replace(created.imageId, 'ID');
      const bodyB = ((await b.json()) as { error: { message: string } }).error.message.replace(unknown, 'ID');
      expect(bodyA).toBe(bodyB);
    }
    // The operator scope is for dropped objects, not for other owners' uploads.
    expect((await app.request(`/v1/images/${created.imageId}`, { headers: operator })).status).toBe(404);
    const own = await app.request(`/v1/images/${created.imageId}`, { headers: alice });
    expect(own.status).toBe(200);
    const record = (await own.json()) as Record<string, unknown>;
    expect(record).toMatchObject({ imageId: created.imageId, status: 'awaiting_upload' });
    for (const hidden of ['owner', 'objectKey', 'cacheHit', 'timingsMs', 'sequencer', 'captionKey', 'questionIds']) expect(record, hidden).not.toHaveProperty(hidden);
  });

  it("gives dropped objects' records to the operator scope only; their ids cannot be derived without the secret", async () => {
    const key = `dropped/${Date.now()}.png`;
    const imageId = idForObjectKey(key, stack().objectIdSecret);
    expect(imageId).not.toBe(idForObjectKey(key, 'another-secret-of-at-least-32-characters'));
    await deps.records.acceptObject({ imageId, objectKey: key, sequencer: '0A', model: 'm', upload: false });
    await deps.records.finishImage(imageId, '0A', { status: 'failed', model: 'm', error: { code: 'processing_error', message: 'internal detail: socket hang up' }, cacheHit: false });
    expect((await app.request(`/v1/objects?key=${encodeURIComponent(key)}`, { headers: alice })).status).toBe(403);
    expect((await app.request(`/v1/images/${imageId}`, { headers: alice })).status).toBe(404);
    const byKey = await app.request(`/v1/objects?key=${encodeURIComponent(key)}`, { headers: operator });
    expect(byKey.status).toBe(200);
    expect(await byKey.json()).toMatchObject({ imageId, objectKey: key, status: 'failed', cacheHit: false, error: { message: 'internal detail: socket hang up' } });
    expect((await app.request(`/v1/images/${imageId}`, { headers: operator })).status).toBe(200);
  });

  it("tells an owner a failure's code and a fixed message, never the internal one", async () => {
    const created = (await (await upload(alice)).json()) as { imageId: string };
    await deps.records.acceptObject({ imageId: created.imageId, objectKey: `uploads/${created.imageId}`, sequencer: '01', model: 'm', upload: true });
    await deps.records.finishImage(created.imageId, '01', { status: 'failed', model: 'm', error: { code: 'processing_error', message: 'ECONNRESET at 10.0.3.7' } });
    const body = (await (await app.request(`/v1/images/${created.imageId}`, { headers: alice })).json()) as { error: { code: string; message: string } };
    expect(body.error).toEqual({ code: 'processing_error', message: 'processing failed repeatedly; try again later' });
  });
});

describe('quotas in DynamoDB', () => {
  /** A second API process on the same stack (`tsx services/api/server.ts`), answering on its own port. */
  async function apiProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/api/server.ts'], { cwd: repoRoot, env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`API process exited with ${code}`)));
      createInterface({ input: child.stdout! }).once('line', resolve);
    });
    return { url: (JSON.parse(line) as { api: string }).api, child };
  }

  it('share one budget between two API processes: 429 with Retry-After and the quota name', async () => {
    const env = { ...stack().env(), BLIPLINE_QUOTA_UPLOADS_PER_DAY: '3' };
    const local = createApiDeps(configFor(stack(), { BLIPLINE_QUOTA_UPLOADS_PER_DAY: '3' }), logger);
    const other = await apiProcess(env);
    try {
      const owner = { authorization: `Bearer ${await token({ sub: `quota-${Date.now()}` })}` };
      const inProcess = createApp(local);
      const viaChild = () => fetch(`${other.url}/v1/uploads`, post({ contentType: 'image/png', contentLength: 10 }, owner));
      const statuses = [(await upload(owner, inProcess)).status, (await viaChild()).status, (await upload(owner, inProcess)).status];
      const refused = await viaChild();
      expect([...statuses, refused.status]).toEqual([201, 201, 201, 429]);
      expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ error: { code: 'quota_exceeded', quota: 'uploads_per_day' } });
      expect((await upload(owner, inProcess)).status).toBe(429);
      // Another owner has a budget of their own.
      expect((await upload(bob, inProcess)).status).toBe(201);
    } finally {
      other.child.kill('SIGTERM');
      await local.close();
    }
  });

  it('count bytes per day, and questions per image', async () => {
    const small = createApiDeps(configFor(stack(), { BLIPLINE_QUOTA_UPLOAD_BYTES_PER_DAY: '25', BLIPLINE_VQA_MODEL: 'v', BLIPLINE_QUOTA_QUESTIONS_PER_IMAGE: '2' }), logger);
    try {
      const a = createApp(small);
      const owner = { authorization: `Bearer ${await token({ sub: `bytes-${Date.now()}` })}` };
      expect((await upload(owner, a)).status).toBe(201);
      expect((await upload(owner, a)).status).toBe(201);
      const third = await upload(owner, a);
      expect(third.status).toBe(429);
      expect(await third.json()).toMatchObject({ error: { quota: 'upload_bytes_per_day' } });

      const asker = { authorization: `Bearer ${await token({ sub: `asker-${Date.now()}` })}` };
      const created = (await (await upload(asker, a)).json()) as { imageId: string };
      await small.records.acceptObject({ imageId: created.imageId, objectKey: `uploads/${created.imageId}`, sequencer: '01', model: 'm', upload: true });
      const ask = () => a.request(`/v1/images/${created.imageId}/questions`, post({ question: 'what is it?' }, asker));
      expect([(await ask()).status, (await ask()).status]).toEqual([202, 202]);
      const refused = await ask();
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error: { quota: 'questions_per_image' } });
    } finally {
      await small.close();
    }
  });
});

describe('DELETE /v1/images/{imageId}', () => {
  it('removes the object, the records, the questions and the cache entries: 204, then 404 for everything about it', async () => {
    const created = (await (await upload(alice)).json()) as { imageId: string; upload: { url: string; headers: Record<string, string> } };
    const { imageId } = created;
    expect((await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: new Uint8Array(10) })).status).toBe(200);
    await deps.records.acceptObject({ imageId, objectKey: `uploads/${imageId}`, sequencer: '01', model: 'm', upload: true });
    const asked = (await (await app.request(`/v1/images/${imageId}/questions`, post({ question: 'what is it?' }, alice))).json()) as { questionId: string };
    expect((await app.request(`/v1/images/${imageId}`, { headers: alice })).status).toBe(200); // fills the cache

    const redis = createClient({ url: stack().redisUrl });
    await redis.connect();
    try {
      const cacheKey = `${prefix}image:${imageId}`;
      expect(await redis.exists(cacheKey)).toBe(1);
      const res = await app.request(`/v1/images/${imageId}`, { method: 'DELETE', headers: alice });
      expect(res.status).toBe(204);
      expect(await redis.exists(cacheKey)).toBe(0);
    } finally {
      await redis.quit();
    }
    const head = await clients().s3.send(new HeadObjectCommand({ Bucket: stack().s3.bucket, Key: `uploads/${imageId}` })).catch((e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode);
    expect(head).toBe(404);
    for (const pk of [`image#${imageId}`, `question#${imageId}#${asked.questionId}`]) {
      const item = await clients().dynamodb.send(new GetItemCommand({ TableName: stack().dynamodb.table, Key: { pk: { S: pk } }, ConsistentRead: true }));
      expect(item.Item, pk).toBeUndefined();
    }
    expect((await app.request(`/v1/images/${imageId}`, { headers: alice })).status).toBe(404);
    expect((await app.request(`/v1/images/${imageId}/questions/${asked.questionId}`, { headers: alice })).status).toBe(404);
    expect((await app.request(`/v1/images/${imageId}`, { method: 'DELETE', headers: alice })).status).toBe(404);
  });
});

describe('behind CloudFront', () => {
  it('refuses every request but /healthz that lacks the origin header CloudFront adds', async () => {
    const secret = 'an-origin-secret-only-cloudfront-knows';
    const edge = createApiDeps(configFor(stack(), { BLIPLINE_ORIGIN_VERIFY_SECRET: secret }), logger);
    try {
      const a = createApp(edge);
      expect((await a.request('/healthz')).status).toBe(200);
      for (const headers of [{}, { 'x-origin-verify': 'wrong' }, { 'x-origin-verify': `${secret}x` }] as Record<string, string>[]) {
        const res = await a.request('/v1/config', { headers });
        expect(res.status).toBe(403);
        expect(await res.json()).toMatchObject({ error: { code: 'forbidden' } });
      }
      expect((await a.request('/v1/config', { headers: { 'x-origin-verify': secret } })).status).toBe(200);
      expect((await upload({ ...alice, 'x-origin-verify': secret }, a)).status).toBe(201);
    } finally {
      await edge.close();
    }
  });
});

describe('anonymous mode', () => {
  it('is explicit: every source address is one owner, and other addresses see nothing', async () => {
    const anon = createApiDeps(configFor(stack(), { BLIPLINE_AUTH: 'anonymous' }), logger);
    try {
      let ip = '198.51.100.1';
      const a = createApp({ ...anon, clientIp: () => ip });
      const created = (await (await a.request('/v1/uploads', post({ contentType: 'image/png', contentLength: 10 }, {}))).json()) as { imageId: string };
      expect((await a.request(`/v1/images/${created.imageId}`)).status).toBe(200);
      ip = '198.51.100.2';
      expect((await a.request(`/v1/images/${created.imageId}`)).status).toBe(404);
      expect(await (await a.request('/v1/config')).json()).toMatchObject({ auth: { mode: 'anonymous' } });
    } finally {
      await anon.close();
    }
  });

  it('refuses to start without an issuer unless anonymous is asked for', () => {
    const env = stack().env();
    const { BLIPLINE_OIDC_ISSUER: _issuer, ...withoutIssuer } = env;
    expect(() => configFor({ ...stack(), env: () => withoutIssuer })).toThrow(/BLIPLINE_OIDC_ISSUER: is required unless BLIPLINE_AUTH=anonymous/);
  });
});
