import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';

// What the S3 emulator (s3rver) enforces for browser uploads; services/local/README.md records it.
const stack = useLocalStack({ redis: 'none' });

const clients = useLocalClients(stack);
const s3 = (): S3Client => clients().s3;

const png = new Uint8Array(Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));

async function presignPut(key: string, contentType: string, contentLength: number, extra: { expiresIn?: number; signingDate?: Date } = {}) {
  return getSignedUrl(
    s3(),
    new PutObjectCommand({ Bucket: stack().s3.bucket, Key: key, ContentType: contentType, ContentLength: contentLength }),
    { expiresIn: extra.expiresIn ?? 300, signableHeaders: new Set(['content-type', 'content-length']), ...(extra.signingDate ? { signingDate: extra.signingDate } : {}) },
  );
}

async function put(url: string, contentType: string, body: Uint8Array): Promise<Response> {
  return fetch(url, { method: 'PUT', headers: { 'content-type': contentType }, body });
}

async function exists(key: string): Promise<boolean> {
  try {
    await s3().send(new HeadObjectCommand({ Bucket: stack().s3.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

describe('presigned PUT signing content-type and content-length', () => {
  it('signs both headers into the URL', async () => {
    const url = new URL(await presignPut('uploads/signed', 'image/png', png.byteLength));
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
  });

  it('carries no checksum parameter when the client calculates checksums only when required', async () => {
    const url = new URL(await presignPut('uploads/no-checksum', 'image/png', png.byteLength));
    expect([...url.searchParams.keys()].filter((name) => name.toLowerCase().startsWith('x-amz-checksum'))).toEqual([]);
  });

  it('does not verify an x-amz-checksum-crc32 parameter (the default client signs the empty body CRC32)', async () => {
    const defaults = new S3Client({
      region: stack().region,
      credentials: stack().credentials,
      endpoint: stack().s3.endpoint,
      forcePathStyle: true,
    });
    const url = await getSignedUrl(
      defaults,
      new PutObjectCommand({ Bucket: stack().s3.bucket, Key: 'uploads/crc', ContentType: 'image/png', ContentLength: png.byteLength }),
      { expiresIn: 60, signableHeaders: new Set(['content-type', 'content-length']) },
    );
    defaults.destroy();
    expect(new URL(url).searchParams.get('x-amz-checksum-crc32')).toBe('AAAAAA==');
    const response = await put(url, 'image/png', png);
    expect(response.status).toBe(200); // S3-compatible servers that check it answer 400 (checksum mismatch)
  });

  it('accepts the upload with exactly the signed headers', async () => {
    const url = await presignPut('uploads/ok', 'image/png', png.byteLength);
    const response = await put(url, 'image/png', png);
    expect(response.status).toBe(200);
    const object = await s3().send(new GetObjectCommand({ Bucket: stack().s3.bucket, Key: 'uploads/ok' }));
    expect(object.ContentType).toBe('image/png');
    expect(new Uint8Array(await object.Body!.transformToByteArray())).toEqual(png);
  });

  it('rejects a different Content-Type with 403', async () => {
    const url = await presignPut('uploads/wrong-type', 'image/png', png.byteLength);
    const response = await put(url, 'text/html', png);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('SignatureDoesNotMatch');
    expect(await exists('uploads/wrong-type')).toBe(false);
  });

  it('rejects a different Content-Length with 403', async () => {
    const url = await presignPut('uploads/wrong-length', 'image/png', png.byteLength);
    const response = await put(url, 'image/png', new Uint8Array([...png, 0]));
    expect(response.status).toBe(403);
    expect(await exists('uploads/wrong-length')).toBe(false);
  });

  it('rejects a tampered signature with 403', async () => {
    const url = new URL(await presignPut('uploads/tampered', 'image/png', png.byteLength));
    const signature = url.searchParams.get('X-Amz-Signature')!;
    url.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
    const response = await put(url.toString(), 'image/png', png);
    expect(response.status).toBe(403);
    expect(await exists('uploads/tampered')).toBe(false);
  });

  it('rejects a tampered key (URL signed for another object) with 403', async () => {
    const url = new URL(await presignPut('uploads/mine', 'image/png', png.byteLength));
    url.pathname = url.pathname.replace('/uploads/mine', '/uploads/theirs');
    const response = await put(url.toString(), 'image/png', png);
    expect(response.status).toBe(403);
  });

  it('rejects an expired URL with 403', async () => {
    const url = await presignPut('uploads/expired', 'image/png', png.byteLength, {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 10 * 60_000),
    });
    const response = await put(url, 'image/png', png);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('Request has expired');
    expect(await exists('uploads/expired')).toBe(false);
  });

  it('rejects a URL signed with an unknown secret with 403', async () => {
    const other = new S3Client({
      region: stack().region,
      credentials: { accessKeyId: stack().credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
      endpoint: stack().s3.endpoint,
      forcePathStyle: true,
    });
    const url = await getSignedUrl(other, new PutObjectCommand({ Bucket: stack().s3.bucket, Key: 'uploads/forged', ContentType: 'image/png' }), {
      expiresIn: 60,
      signableHeaders: new Set(['content-type']),
    });
    other.destroy();
    const response = await put(url, 'image/png', png);
    expect(response.status).toBe(403);
  });
});

describe('reads the worker relies on', () => {
  it('serves byte ranges (bounded GetObject) and HeadObject metadata', async () => {
    const bucket = stack().s3.bucket;
    const key = 'dropped/ränge test.bin';
    const bytes = new Uint8Array(100).map((_, i) => i);
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'application/octet-stream' }));
    const head = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(100);
    expect(head.ContentType).toBe('application/octet-stream');
    const ranged = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-9' }));
    expect(ranged.ContentRange).toBe('bytes 0-9/100');
    expect(new Uint8Array(await ranged.Body!.transformToByteArray())).toEqual(bytes.slice(0, 10));
  });
});

describe('CORS for browser uploads', () => {
  it('answers the preflight of a cross-origin PUT', async () => {
    const url = await presignPut('uploads/cors', 'image/png', png.byteLength);
    const response = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type');
  });

  it('exposes ETag on the cross-origin PUT response', async () => {
    const url = await presignPut('uploads/cors-put', 'image/png', png.byteLength);
    const response = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'image/png', origin: 'https://example.com' },
      body: png,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-expose-headers')).toContain('ETag');
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('answers the preflight of a cross-origin POST', async () => {
    const response = await fetch(`${stack().s3.endpoint}/${stack().s3.bucket}`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
  });
});

// A presigned POST policy is NOT checked by s3rver: these tests pin that down, so that nobody
// mistakes a passing local upload for an enforced policy (see services/local/README.md).
describe('presigned POST policy (emulator does not enforce it)', () => {
  async function presignPost(key: string, expires = 300) {
    return createPresignedPost(s3(), {
      Bucket: stack().s3.bucket,
      Key: key,
      Conditions: [
        ['content-length-range', 1, 16],
        ['starts-with', '$Content-Type', 'image/'],
      ],
      Fields: { 'Content-Type': 'image/png' },
      Expires: expires,
    });
  }

  async function post(presigned: { url: string; fields: Record<string, string> }, overrides: Record<string, string>, body: Uint8Array) {
    const form = new FormData();
    for (const [name, value] of Object.entries({ ...presigned.fields, ...overrides })) form.append(name, value);
    form.append('file', new Blob([body]), 'upload.bin');
    return fetch(presigned.url, { method: 'POST', body: form });
  }

  it('accepts a POST within the policy', async () => {
    const presigned = await presignPost('uploads/post-ok');
    expect(presigned.url).toBe(`${stack().s3.endpoint}/${stack().s3.bucket}`);
    const response = await post(presigned, {}, png);
    expect(response.status).toBe(204);
    const head = await s3().send(new HeadObjectCommand({ Bucket: stack().s3.bucket, Key: 'uploads/post-ok' }));
    expect(head.ContentType).toBe('image/png');
    expect(head.ContentLength).toBe(png.byteLength);
  });

  it('does not enforce content-length-range', async () => {
    const presigned = await presignPost('uploads/post-too-big');
    const response = await post(presigned, {}, new Uint8Array(1000));
    expect(response.status).toBe(204); // real S3: 400 EntityTooLarge
    expect(await exists('uploads/post-too-big')).toBe(true);
  });

  it('does not enforce a starts-with condition on Content-Type', async () => {
    const presigned = await presignPost('uploads/post-html');
    const response = await post(presigned, { 'Content-Type': 'text/html' }, png);
    expect(response.status).toBe(204); // real S3: 403 AccessDenied (policy condition failed)
  });

  it('does not enforce the expiration or the signature', async () => {
    const expired = await createPresignedPost(
      new S3Client({ region: stack().region, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'wrong' }, endpoint: stack().s3.endpoint, forcePathStyle: true }),
      { Bucket: stack().s3.bucket, Key: 'uploads/post-expired', Expires: -60 },
    );
    const response = await post(expired, {}, png);
    expect(response.status).toBe(204); // real S3: 403 AccessDenied
  });

  it('does not check that the key matches the policy', async () => {
    const presigned = await presignPost('uploads/post-key');
    const response = await post(presigned, { key: 'elsewhere/other-key' }, png);
    expect(response.status).toBe(204); // real S3: 403 (key condition failed)
    expect(await exists('elsewhere/other-key')).toBe(true);
  });
});
