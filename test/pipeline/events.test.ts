import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createS3Client, createSqsClient } from '../../services/aws/clients.js';
import { createResultPublisher, type PublishTarget, type ResultPublisher } from '../../services/aws/result-publisher.js';
import type { ImageRecord, QuestionRecord } from '../../services/core/records.js';
import { parseEventEnvelope, type ResultEvent } from '../../services/core/result-events.js';
import { authHeader } from '../support/auth.js';
import { fixturePath } from '../support/fixtures.js';
import { useLocalStack } from '../support/local-stack.js';
import { loadModels } from './models.js';
import { configFor, useApiAndWorker, waitFor } from './support.js';

const stack = useLocalStack({ redis: 'none' });

/** The events queue's publisher, which fails once for the image ids in `failAfterSending` after the event went out (a lost acknowledgement). */
class LosingAcks implements ResultPublisher {
  readonly failAfterSending = new Set<string>();
  constructor(private readonly inner: ResultPublisher) {}
  async publish(event: ResultEvent, target?: PublishTarget): Promise<void> {
    await this.inner.publish(event, target);
    if (this.failAfterSending.delete(event.detail.imageId)) throw new Error('simulated lost PutEvents acknowledgement');
  }
}

const alice = () => authHeader(stack(), 'alice');

/** POST /v1/uploads as alice; `put()` then sends the bytes to the presigned URL. */
async function createUpload(name: string): Promise<{ imageId: string; put(): Promise<void> }> {
  const bytes = await readFile(fixturePath('images', name));
  const res = await app().request('/v1/uploads', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(await alice()) },
    body: JSON.stringify({ contentType: 'image/jpeg', contentLength: bytes.byteLength }),
  });
  expect(res.status).toBe(201);
  const created = (await res.json()) as { imageId: string; upload: { url: string; headers: Record<string, string> } };
  return {
    imageId: created.imageId,
    async put() {
      expect((await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: bytes })).status).toBe(200);
    },
  };
}

async function upload(name: string): Promise<string> {
  const created = await createUpload(name);
  await created.put();
  return created.imageId;
}

async function getJson<T>(path: string): Promise<T> {
  return (await (await app().request(path, { headers: await alice() })).json()) as T;
}

/** Everything on the events queue now (deleting what it reads), as parsed envelopes. */
async function drainEvents(waitSeconds = 1): Promise<ReturnType<typeof parseEventEnvelope>[]> {
  const sqs = createSqsClient(config());
  const out: ReturnType<typeof parseEventEnvelope>[] = [];
  for (;;) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: config().events.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }));
    const messages = got.Messages ?? [];
    if (messages.length === 0) return out;
    for (const m of messages) {
      out.push(parseEventEnvelope(JSON.parse(m.Body ?? '')));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: config().events.queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/** Collects events until `done` holds over everything collected so far. */
async function eventsUntil(done: (events: ReturnType<typeof parseEventEnvelope>[]) => boolean, what: string) {
  const seen: ReturnType<typeof parseEventEnvelope>[] = [];
  await waitFor(async () => seen.push(...(await drainEvents())), () => done(seen), 60_000, what);
  return seen;
}

const publisher = { current: undefined as LosingAcks | undefined };
const system = useApiAndWorker(async () => {
  const config = configFor(stack());
  const loaded = await loadModels();
  publisher.current = new LosingAcks(createResultPublisher(config));
  const dispose = async () => void (await Promise.all(loaded.models.map((m) => m.dispose())));
  return { config, models: loaded, dispose, publisher: publisher.current, worker: { waitSeconds: 1, visibilityTimeoutSeconds: 2 } };
});
const app = () => system().app;
const config = () => system().config;

describe('result events on the local events queue', () => {
  it('an upload\'s caption arrives once, in the envelope an EventBridge rule delivers, with the record\'s caption', async () => {
    const imageId = await upload('photo_chelsea.jpg');
    const events = await eventsUntil((e) => e.some((x) => x.detail.imageId === imageId), 'Image Captioned');
    const record = await getJson<ImageRecord>(`/v1/images/${imageId}`);
    expect(record.status).toBe('done');
    const mine = [...events, ...(await drainEvents(2))].filter((e) => e.detail.imageId === imageId);
    expect(mine).toHaveLength(1);
    const [event] = mine;
    expect(event).toMatchObject({ version: '0', source: 'blipline', 'detail-type': 'Image Captioned', account: '000000000000', region: config().region, resources: [`arn:aws:s3:::${config().bucket}/uploads/${imageId}`] });
    expect(event!.detail).toMatchObject({
      version: 1,
      imageId,
      object: { bucket: config().bucket, key: `uploads/${imageId}` },
      owner: 'alice',
      status: 'done',
      caption: record.caption,
      model: record.model,
      precision: 'fp32',
      contentSha256: record.contentSha256,
    });
    expect(event!.detail).toHaveProperty('timingsMs.inferenceMs');
  });

  it('a delivery retried after a failed publish carries the same event id', async () => {
    // The fault is armed between creating the upload (its id known) and sending the object.
    const created = await createUpload('photo_chelsea.jpg');
    publisher.current!.failAfterSending.add(created.imageId);
    await created.put();
    const events = await eventsUntil((e) => e.filter((x) => x.detail.imageId === created.imageId).length >= 2, 'the event published again on the redelivery');
    const mine = events.filter((e) => e.detail.imageId === created.imageId);
    expect(mine.map((e) => e['detail-type'])).toEqual(['Image Captioned', 'Image Captioned']);
    expect(mine[1]!.detail.eventId).toBe(mine[0]!.detail.eventId);
    expect(mine[1]!.id).not.toBe(mine[0]!.id);
    expect(publisher.current!.failAfterSending.size).toBe(0);
  });

  it('a question\'s answer and a deletion are events too', async () => {
    const imageId = await upload('photo_chelsea.jpg');
    await eventsUntil((e) => e.some((x) => x.detail.imageId === imageId && x['detail-type'] === 'Image Captioned'), 'Image Captioned');
    const asked = await app().request(`/v1/images/${imageId}/questions`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(await alice()) }, body: JSON.stringify({ question: 'what is in the picture?' }) });
    expect(asked.status).toBe(202);
    const { questionId } = (await asked.json()) as { questionId: string };
    const answeredEvents = await eventsUntil((e) => e.some((x) => x['detail-type'] === 'Question Answered' && x.detail.imageId === imageId), 'Question Answered');
    const answered = answeredEvents.find((x) => x['detail-type'] === 'Question Answered')!;
    const question = await getJson<QuestionRecord>(`/v1/images/${imageId}/questions/${questionId}`);
    expect(answered.detail).toMatchObject({ questionId, question: 'what is in the picture?', answer: question.answer, owner: 'alice', object: { key: `uploads/${imageId}` } });
    // The same job delivered again (its first delete lost): the answer is not recomputed, its event goes out again, same id.
    await createSqsClient(config()).send(new SendMessageCommand({ QueueUrl: config().questionQueueUrl, MessageBody: JSON.stringify({ type: 'question', imageId, questionId }) }));
    const again = await eventsUntil((e) => e.some((x) => x['detail-type'] === 'Question Answered' && x.detail.imageId === imageId), 'Question Answered again');
    expect(again.find((x) => x['detail-type'] === 'Question Answered')!.detail.eventId).toBe(answered.detail.eventId);
    const deleted = await app().request(`/v1/images/${imageId}`, { method: 'DELETE', headers: await alice() });
    expect(deleted.status).toBe(204);
    const deletion = await eventsUntil((e) => e.some((x) => x['detail-type'] === 'Image Deleted'), 'Image Deleted');
    expect(deletion.find((x) => x['detail-type'] === 'Image Deleted')!.detail).toMatchObject({ imageId, status: 'deleted', reason: 'api', owner: 'alice' });
  });

  it('an object dropped into the bucket and removed again: its caption and its deletion, without an owner', async () => {
    // Characters above U+FFFF in the key too (the local SQS refuses them raw; the envelope escapes them).
    const key = `drops/été 猫 🐈 ${randomUUID()}.jpg`;
    const s3 = createS3Client(config());
    await s3.send(new PutObjectCommand({ Bucket: config().bucket, Key: key, Body: await readFile(fixturePath('images', 'photo_chelsea.jpg')) }));
    const captioned = await eventsUntil((e) => e.some((x) => x.detail.object.key === key), 'Image Captioned of the dropped object');
    const caption = captioned.find((x) => x.detail.object.key === key)!;
    expect(caption['detail-type']).toBe('Image Captioned');
    expect(caption.detail).not.toHaveProperty('owner');
    await s3.send(new DeleteObjectCommand({ Bucket: config().bucket, Key: key }));
    await stack().drainS3Events();
    const removed = await eventsUntil((e) => e.some((x) => x.detail.object.key === key && x['detail-type'] === 'Image Deleted'), 'Image Deleted of the removed object');
    expect(removed.find((x) => x['detail-type'] === 'Image Deleted')!.detail).toMatchObject({ imageId: caption.detail.imageId, status: 'deleted', reason: 'object_removed' });
  });

  it('an object that is not an image is an Image Failed event with the fixed message of its code', async () => {
    const key = `drops/${randomUUID()}.jpg`;
    await createS3Client(config()).send(new PutObjectCommand({ Bucket: config().bucket, Key: key, Body: 'plain text, not a picture' }));
    const events = await eventsUntil((e) => e.some((x) => x.detail.object.key === key), 'Image Failed');
    const failed = events.find((x) => x.detail.object.key === key)!;
    expect(failed['detail-type']).toBe('Image Failed');
    expect(failed.detail).toMatchObject({ status: 'failed', error: { code: 'not_an_image', message: 'the object is not an image' } });
  });
});
