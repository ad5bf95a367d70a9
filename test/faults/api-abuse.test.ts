import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../services/api/server.js';
import { createLogger } from '../../services/core/logger.js';
import { UPLOAD_PREFIX } from '../../services/core/keys.js';
import { configFor } from '../pipeline/support.js';
import { useLocalStack } from '../support/local-stack.js';

/**
 * Scenario 9 over real HTTP (the Node server on a free port, S3 = the emulator). What the in-process
 * app tests already pin (test/api/api.test.ts: every 4xx code of POST /v1/uploads, 403 from S3 for
 * another type / length / an expired URL, 404 for unknown ids) is repeated here only where the real
 * server path matters: a 10 MB body on the wire, the per-client limit keyed by the peer address,
 * traversal attempts, and S3's answer to an oversize PUT.
 */
const MAX_BYTES = 100_000;
const RATE = 5;
const stack = useLocalStack({ redis: 'none' });
let server: RunningServer;

beforeAll(async () => {
  // Anonymous mode: every source address is an owner of its own, with its own upload quota (counted in DynamoDB).
  const config = configFor(stack(), { BLIPLINE_AUTH: 'anonymous', BLIPLINE_MAX_UPLOAD_BYTES: String(MAX_BYTES), BLIPLINE_QUOTA_UPLOADS_PER_DAY: String(RATE), BLIPLINE_UPLOAD_EXPIRES_SECONDS: '60' });
  server = await startServer({ config, port: 0, logger: createLogger({ level: 'silent' }) });
});

afterAll(async () => {
  await server?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request from a chosen loopback source address (a distinct anonymous owner). */
function send(method: string, path: string, options: { body?: Buffer | string; from?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const req = request(
      { host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method, localAddress: options.from ?? '127.0.0.1', headers: { 'Content-Type': 'application/json', ...options.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    // The server may answer (413) and close before a large body is fully written.
    const benign = (error: NodeJS.ErrnoException) => error.code === 'EPIPE' || error.code === 'ECONNRESET';
    req.on('error', (error: NodeJS.ErrnoException) => (benign(error) ? undefined : reject(error)));
    req.on('socket', (socket) => socket.on('error', (error: NodeJS.ErrnoException) => (benign(error) ? undefined : reject(error))));
    req.end(options.body);
  });
}

const errorOf = (a: Answer) => (JSON.parse(a.body) as { error: { code: string; message: string } }).error;
let client = 10;
/** A fresh loopback source address: its own quota. */
const freshClient = () => `127.0.0.${(client += 1)}`;

describe('API abuse over real HTTP (scenario 9)', () => {
  it('answers each hostile body with a specific 4xx and reason', async () => {
    const from = freshClient();
    const cases: [string, Buffer | string, number, string][] = [
      ['malformed JSON', '{"contentType": "image/png", "contentLength": ', 400, 'invalid_json'],
      ['wrong types', JSON.stringify({ contentType: 42, contentLength: 'big' }), 400, 'invalid_request'],
      ['unknown fields', JSON.stringify({ contentType: 'image/png', contentLength: 10, acl: 'public-read' }), 400, 'invalid_request'],
      ['a 10 MB body', Buffer.alloc(10 * 1024 * 1024, 0x20), 413, 'body_too_large'],
    ];
    const seen: Record<string, [number, string]> = {};
    for (const [name, body] of cases) {
      const a = await send('POST', '/v1/uploads', { body, from: freshClient() });
      seen[name] = [a.status, errorOf(a).code];
      expect(errorOf(a).message.length).toBeGreaterThan(10);
    }
    expect(seen).toEqual(Object.fromEntries(cases.map(([name, , status, code]) => [name, [status, code]])));
    const more: [string, unknown, number, string][] = [
      ['contentLength above the limit', { contentType: 'image/png', contentLength: MAX_BYTES + 1 }, 413, 'too_large'],
      ['a non-image contentType', { contentType: 'application/x-msdownload', contentLength: 100 }, 415, 'unsupported_type'],
      ['SVG (scriptable) contentType', { contentType: 'image/svg+xml', contentLength: 100 }, 415, 'unsupported_type'],
      ['negative contentLength', { contentType: 'image/png', contentLength: -1 }, 400, 'invalid_request'],
    ];
    for (const [name, body, status, code] of more) {
      const a = await send('POST', '/v1/uploads', { body: JSON.stringify(body), from });
      expect({ name, status: a.status, code: errorOf(a).code }).toEqual({ name, status, code });
    }
  });

  it('never lets a filename choose the object key, and answers unknown or malformed ids with 404/400', async () => {
    const from = freshClient();
    const a = await send('POST', '/v1/uploads', { body: JSON.stringify({ contentType: 'image/png', contentLength: 10, filename: '../../../uploads/victim\u202e.png' }), from });
    expect(a.status).toBe(201);
    const created = JSON.parse(a.body) as { imageId: string; statusUrl: string; upload: { url: string } };
    expect(decodeURIComponent(new URL(created.upload.url).pathname)).toBe(`/${stack().s3.bucket}/${UPLOAD_PREFIX}${created.imageId}`);
    const record = JSON.parse((await send('GET', created.statusUrl, { from })).body) as { filename?: string; objectKey: string };
    expect(record.filename).toBe('victim.png');
    expect(record).not.toHaveProperty('objectKey'); // the key is storage, not the owner's business

    const probes: [string, string, number, string][] = [
      ['GET', '/v1/images/0190f1d2-0000-7000-8000-000000000000', 404, 'not_found'],
      ['GET', '/v1/images/..%2F..%2Fetc%2Fpasswd', 404, 'not_found'],
      // Dropped objects are the operator's; anonymous callers never have that scope.
      ['GET', '/v1/objects?key=..%2F..%2Fetc%2Fpasswd', 403, 'insufficient_scope'],
      ['GET', '/v1/objects', 403, 'insufficient_scope'],
      ['POST', '/v1/images/0190f1d2-0000-7000-8000-000000000000/questions', 404, 'not_found'],
      ['GET', '/v1/images/0190f1d2-0000-7000-8000-000000000000/questions/0190f1d2-0000-7000-8000-000000000001', 404, 'not_found'],
    ];
    for (const [method, path, status, code] of probes) {
      const r = await send(method, path, method === 'POST' ? { body: JSON.stringify({ question: 'what is it?' }), from } : {});
      expect({ path, status: r.status, code: errorOf(r).code }).toEqual({ path, status, code });
    }
  });

  it('limits POST /v1/uploads per anonymous client address (a daily quota), other clients unaffected', async () => {
    const noisy = freshClient();
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < RATE + 3; i += 1) {
      const a = await send('POST', '/v1/uploads', { body: JSON.stringify({ contentType: 'image/jpeg', contentLength: 100 }), from: noisy });
      statuses.push(a.status);
      if (a.status === 429) {
        expect(errorOf(a)).toMatchObject({ code: 'quota_exceeded', quota: 'uploads_per_day' });
        retryAfter = String(a.headers['retry-after']);
      }
    }
    expect(statuses).toEqual([...Array(RATE).fill(201), 429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const quiet = await send('POST', '/v1/uploads', { body: JSON.stringify({ contentType: 'image/jpeg', contentLength: 100 }), from: freshClient() });
    expect(quiet.status).toBe(201);
  });

  it('S3 refuses an upload larger or of another type than the presigned PUT allows (the API offers PUT only, no POST policy)', async () => {
    const config = JSON.parse((await send('GET', '/v1/config')).body) as { uploadMethod: string };
    expect(config.uploadMethod).toBe('PUT');
    const a = await send('POST', '/v1/uploads', { body: JSON.stringify({ contentType: 'image/png', contentLength: 1_000 }), from: freshClient() });
    const { upload } = JSON.parse(a.body) as { upload: { method: string; url: string; headers: Record<string, string> } };
    expect(upload.method).toBe('PUT');
    const signed = new URL(upload.url);
    expect(signed.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host;if-none-match');
    expect(Number(signed.searchParams.get('X-Amz-Expires'))).toBe(60);
    // One byte more than signed is already refused (a larger body makes the emulator drop the connection mid-upload).
    const oversize = await fetch(upload.url, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: new Uint8Array(1_001) });
    expect(oversize.status).toBe(403);
    const html = await fetch(upload.url, { method: 'PUT', headers: { 'Content-Type': 'text/html' }, body: new Uint8Array(1_000) });
    expect(html.status).toBe(403);
    const exact = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: new Uint8Array(1_000) });
    expect(exact.status).toBe(200);
  });
});
