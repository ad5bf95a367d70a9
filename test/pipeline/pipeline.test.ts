import { readFile } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import { createS3Client, createSqsClient } from '../../services/aws/clients.js';
import type { Config } from '../../services/core/config.js';
import { createLogger } from '../../services/core/logger.js';
import { Metrics } from '../../services/core/metrics.js';
import type { ImageRecord, QuestionRecord } from '../../services/core/records.js';
import type { Captioner, QuestionAnswerer } from '../../services/worker/captioner.js';
import type { BlipModel } from '../../services/blip/index.js';
import { createWorker } from '../../services/worker/deps.js';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { authHeader } from '../support/auth.js';
import { fixturePath } from '../support/fixtures.js';
import { useLocalStack } from '../support/local-stack.js';
import { Counting, loadModels } from './models.js';
import { configFor, waitFor } from './support.js';

const stack = useLocalStack();
const logger = createLogger({ level: 'warn' });
let config: Config;
let api: ReturnType<typeof createApiDeps>;
let app: ReturnType<typeof createApp>;
let worker: ReturnType<typeof createWorker>;
let running: Promise<void>;
let counting: Counting;
let direct: Captioner;
let directVqa: QuestionAnswerer;
let models: BlipModel[] = [];
const metrics = new Metrics({ service: 'worker', sink: null });

const image = (name: string) => readFile(fixturePath('images', name));

type Caller = 'alice' | 'operator';
const caller = async (who: Caller) => authHeader(stack(), who);
const postJson = async (path: string, body: unknown, who: Caller = 'alice') =>
  app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(await caller(who)) }, body: JSON.stringify(body) });

/** A GET as alice (her uploads) or as the operator (dropped objects: the default for /v1/objects). */
async function getJson<T>(path: string, who: Caller = path.startsWith('/v1/objects') ? 'operator' : 'alice'): Promise<{ status: number; body: T }> {
  const res = await app.request(path, { headers: await caller(who) });
  return { status: res.status, body: (await res.json()) as T };
}

const final = (r: { status: number; body: ImageRecord }) => r.status === 200 && (r.body.status === 'done' || r.body.status === 'failed');

async function queueIsEmpty(): Promise<boolean> {
  const sqs = createSqsClient(config);
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: config.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return out.Attributes?.ApproximateNumberOfMessages === '0' && out.Attributes?.ApproximateNumberOfMessagesNotVisible === '0';
}

beforeAll(async () => {
  config = configFor(stack());
  const loaded = await loadModels();
  direct = loaded.captioner;
  directVqa = loaded.answerer;
  models = loaded.models;
  counting = new Counting(loaded.captioner);
  api = createApiDeps({ ...config, vqaModel: 'fixture' }, logger);
  app = createApp(api);
  worker = createWorker(config, { captioner: counting, answerer: loaded.answerer }, { logger, metrics, worker: { waitSeconds: 1, visibilityTimeoutSeconds: 10 } });
  running = worker.worker.start();
});

afterAll(async () => {
  await worker?.worker.stop();
  await running;
  await worker?.close();
  await api?.close();
  await Promise.all(models.map((m) => m.dispose()));
});

describe('the pipeline on the local stack', () => {
  it('captions an API upload: POST /v1/uploads, presigned PUT, record done with the model token ids', async () => {
    const bytes = await image('photo_chelsea.jpg');
    const res = await postJson('/v1/uploads', { contentType: 'image/jpeg', contentLength: bytes.byteLength, filename: 'chelsea.jpg' });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { imageId: string; statusUrl: string; upload: { url: string; headers: Record<string, string> } };
    const put = await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: bytes });
    expect(put.status).toBe(200);
    const record = await waitFor(() => getJson<ImageRecord>(created.statusUrl), final, 30_000, 'upload captioned');
    const [expected] = await direct.caption([bytes]);
    expect(expected?.ok).toBe(true);
    if (!expected?.ok) return;
    expect(record.body).toMatchObject({ imageId: created.imageId, status: 'done', caption: expected.generation.text, tokenIds: expected.generation.tokenIds, model: counting.name, contentType: 'image/jpeg', filename: 'chelsea.jpg' });
    expect(record.body.tokenIds?.[0]).toBe(30522);
    expect(record.body.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(record.body).not.toHaveProperty('cacheHit');

    // A replay of the presigned PUT before it expires, with other bytes of the signed length (S3 refuses it with
    // 412 through If-None-Match; the emulator takes it): no second inference, the caption and hash stay.
    const inferences = counting.images;
    const other = Buffer.from(bytes);
    other[other.length - 3] = other[other.length - 3]! ^ 0xff;
    const replay = await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: other });
    expect(replay.status).toBe(200);
    await stack().drainS3Events();
    await waitFor(queueIsEmpty, (empty) => empty, 30_000, 'queue drained');
    expect(counting.images - inferences).toBe(0);
    expect((await getJson<ImageRecord>(created.statusUrl)).body).toMatchObject({ status: 'done', caption: expected.generation.text, contentSha256: record.body.contentSha256 });
    // Uploads are not the operator's: the object route does not list them.
    expect((await getJson<ImageRecord>(`/v1/objects?key=${encodeURIComponent(`uploads/${created.imageId}`)}`)).status).toBe(404);
  });

  it('captions an upload with a text prompt (prompt ids after [DEC]), deduplicated separately from the plain caption', async () => {
    const bytes = await image('photo_chelsea.jpg');
    const res = await postJson('/v1/uploads', { contentType: 'image/jpeg', contentLength: bytes.byteLength, prompt: 'a picture of' });
    const created = (await res.json()) as { statusUrl: string; upload: { url: string; headers: Record<string, string> } };
    expect((await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: bytes })).status).toBe(200);
    const record = await waitFor(() => getJson<ImageRecord>(created.statusUrl), final, 30_000, 'prompted upload captioned');
    const [expected] = await direct.caption([bytes], { prompt: 'a picture of' });
    expect(expected?.ok).toBe(true);
    if (!expected?.ok) return;
    expect(record.body).toMatchObject({ status: 'done', prompt: 'a picture of', tokenIds: expected.generation.tokenIds });
    // [DEC] then the prompt's word pieces ("a picture of" = 1037 3861 1997), as Hugging Face generate returns them.
    expect(record.body.tokenIds?.slice(0, 4)).toEqual([30522, 1037, 3861, 1997]);
  });

  it('captions an object dropped with the SDK under a key with spaces, +, % and unicode', async () => {
    const key = 'dropped/my cat + été 猫 100%.png';
    const s3 = createS3Client(config);
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: await image('gradient_640x480.png'), ContentType: 'image/png' }));
    const record = await waitFor(() => getJson<ImageRecord>(`/v1/objects?key=${encodeURIComponent(key)}`), final, 30_000, 'dropped object captioned');
    const [expected] = await direct.caption([await image('gradient_640x480.png')]);
    expect(expected?.ok).toBe(true);
    expect(record.body).toMatchObject({ status: 'done', objectKey: key, tokenIds: expected?.ok ? expected.generation.tokenIds : [] });
  });

  it("erases a dropped object's records when the object is removed from the bucket", async () => {
    const key = 'removed/soon.png';
    const s3 = createS3Client(config);
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: await image('tiny_7x5.png') }));
    const record = await waitFor(() => getJson<ImageRecord>(`/v1/objects?key=${encodeURIComponent(key)}`), final, 30_000, 'dropped object captioned');
    expect(record.body.status).toBe('done');
    await s3.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: key }));
    await waitFor(() => getJson<ImageRecord>(`/v1/images/${record.body.imageId}`, 'operator'), (r) => r.status === 404, 30_000, 'records erased');
    expect((await getJson<ImageRecord>(`/v1/objects?key=${encodeURIComponent(key)}`)).status).toBe(404);
  });

  it('runs the model once for the same bytes under two keys', async () => {
    const bytes = await image('photo_coffee.jpg');
    const before = counting.images;
    const s3 = createS3Client(config);
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'dup/a.jpg', Body: bytes }));
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'dup/b.jpg', Body: bytes }));
    const a = await waitFor(() => getJson<ImageRecord>('/v1/objects?key=dup/a.jpg'), final, 30_000, 'a');
    const b = await waitFor(() => getJson<ImageRecord>('/v1/objects?key=dup/b.jpg'), final, 30_000, 'b');
    expect(a.body.status).toBe('done');
    expect(b.body.tokenIds).toEqual(a.body.tokenIds);
    expect(a.body.imageId).not.toBe(b.body.imageId);
    expect(counting.images - before).toBe(1);
    expect([a.body.cacheHit, b.body.cacheHit].sort()).toEqual([false, true]);
  });

  it('records a text file as failed: not_an_image and deletes its message', async () => {
    const s3 = createS3Client(config);
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'notes/readme.jpg', Body: 'just some text, not a JPEG\n'.repeat(20), ContentType: 'image/jpeg' }));
    const record = await waitFor(() => getJson<ImageRecord>('/v1/objects?key=notes/readme.jpg'), final, 30_000, 'text file failed');
    expect(record.body.status).toBe('failed');
    expect(record.body.error?.code).toBe('not_an_image');
    await waitFor(queueIsEmpty, (empty) => empty, 15_000, 'queue drained');
  });

  it('lets the newer sequencer win when one key is overwritten', async () => {
    const s3 = createS3Client(config);
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'over/write.png', Body: await image('gray_200x200.png') }));
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'over/write.png', Body: await image('tiny_7x5.png') }));
    await stack().drainS3Events();
    await waitFor(queueIsEmpty, (empty) => empty, 30_000, 'queue drained');
    const record = await getJson<ImageRecord>('/v1/objects?key=over/write.png');
    const [expected] = await direct.caption([await image('tiny_7x5.png')]);
    expect(record.body.status).toBe('done');
    expect(expected?.ok).toBe(true);
    expect(record.body.tokenIds).toEqual(expected?.ok ? expected.generation.tokenIds : []);
  });

  it('answers a question about an uploaded image through the queue', async () => {
    const s3 = createS3Client(config);
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'vqa/rocket.jpg', Body: await image('photo_rocket.jpg') }));
    const record = await waitFor(() => getJson<ImageRecord>('/v1/objects?key=vqa/rocket.jpg'), final, 30_000, 'rocket');
    const res = await postJson(`/v1/images/${record.body.imageId}/questions`, { question: 'what is in the picture?' }, 'operator');
    expect(res.status).toBe(202);
    const { statusUrl } = (await res.json()) as { statusUrl: string };
    const answered = await waitFor(() => getJson<QuestionRecord>(statusUrl, 'operator'), (r) => r.body.status === 'done' || r.body.status === 'failed', 30_000, 'answer');
    expect(answered.body).toMatchObject({ status: 'done', question: 'what is in the picture?' });
    expect(answered.body.answer).toEqual(expect.any(String));
    expect(answered.body.tokenIds?.[0]).toBe(30522);
    const expected = await directVqa.ask(await image('photo_rocket.jpg'), 'what is in the picture?');
    expect(expected.ok).toBe(true);
    expect(answered.body).toMatchObject(expected.ok ? { answer: expected.generation.text, tokenIds: expected.generation.tokenIds } : { answer: 'no expected answer' });
  });

  it('emits metrics for processed images, cache hits, inferences and failures (counted over its own drops)', async () => {
    const names = ['ImagesProcessed', 'CaptionCacheHits', 'Inferences', 'Failures{Reason=not_an_image}'] as const;
    const before = Object.fromEntries(names.map((n) => [n, metrics.total(n)]));
    const inferencesBefore = counting.images;
    const s3 = createS3Client(config);
    // One new content under two keys (one inference, one cache hit) and one text file.
    const bytes = await image('photo_astronaut.jpg');
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'metrics/a.jpg', Body: bytes }));
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'metrics/b.jpg', Body: bytes }));
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: 'metrics/notes.png', Body: 'plain text\n'.repeat(10) }));
    for (const key of ['metrics/a.jpg', 'metrics/b.jpg', 'metrics/notes.png']) {
      await waitFor(() => getJson<ImageRecord>(`/v1/objects?key=${encodeURIComponent(key)}`), final, 30_000, key);
    }
    const delta = Object.fromEntries(names.map((n) => [n, metrics.total(n) - (before[n] ?? 0)]));
    // Two model inputs: the new content once (its second key is a cache hit), and the text file, which the
    // runtime's decoder is the one to name not_an_image.
    expect(delta).toEqual({ ImagesProcessed: 3, CaptionCacheHits: 1, Inferences: 2, 'Failures{Reason=not_an_image}': 1 });
    expect(counting.images - inferencesBefore).toBe(2);
  });
});
