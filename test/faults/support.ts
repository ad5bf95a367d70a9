import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import sharp from 'sharp';
import { createDynamoClient } from '../../services/aws/clients.js';
import { RecordStore } from '../../services/aws/record-store.js';
import type { ImageRecord } from '../../services/core/records.js';
import type { LocalStack } from '../../services/local/index.js';
import { loadConfig } from '../../services/core/config.js';

/** Helpers of the fault suite: images, drops, records and queue depths on a local stack. */

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A deterministic noise image: distinct `seed` -> distinct bytes. */
export async function noiseImage(seed: number, options: { width?: number; height?: number; format?: 'png' | 'jpeg' | 'webp' } = {}): Promise<Buffer> {
  const width = options.width ?? 48;
  const height = options.height ?? 40;
  const pixels = Buffer.alloc(width * height * 3);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < pixels.length; i += 1) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    pixels[i] = x & 0xff;
  }
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  const format = options.format ?? 'png';
  return format === 'png' ? image.png().toBuffer() : format === 'jpeg' ? image.jpeg({ quality: 85 }).toBuffer() : image.webp().toBuffer();
}

/** The stack's record store (the same DynamoDB the worker writes). */
export function recordStore(stack: LocalStack): RecordStore {
  const env = stack.env();
  // The AWS SDK's default credential chain reads these (the emulators accept only the stack's pair).
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  const config = loadConfig({ ...env });
  return new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1 });
}

export async function drop(s3: S3Client, stack: LocalStack, key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: stack.s3.bucket, Key: key, Body: body, ...(contentType ? { ContentType: contentType } : {}) }));
}

export const isFinal = (r: ImageRecord | undefined): boolean => r?.status === 'done' || r?.status === 'failed';

/** The image record of a dropped object key (through the key's object mapping). */
export async function recordOfKey(records: RecordStore, key: string): Promise<ImageRecord | undefined> {
  const object = await records.getObject(key);
  return object?.imageId ? records.getImage(object.imageId) : undefined;
}

export interface QueueCounts {
  visible: number;
  inFlight: number;
  delayed: number;
}

export async function queueCounts(sqs: SQSClient, url: string): Promise<QueueCounts> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = out.Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

export const total = (c: QueueCounts): number => c.visible + c.inFlight + c.delayed;

/** Reads (and leaves) the DLQ's messages: their bodies. */
export async function peekDlq(sqs: SQSClient, stack: LocalStack): Promise<string[]> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.sqs.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
  return (out.Messages ?? []).map((m) => m.Body ?? '');
}

/** Polls `read` until `done` holds; throws with the last value after `timeoutMs`. */
export async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 2_000)}`);
}

/** Final records of all keys (undefined where not final yet). */
export async function finalRecords(records: RecordStore, keys: string[]): Promise<Map<string, ImageRecord | undefined>> {
  const out = new Map<string, ImageRecord | undefined>();
  for (let i = 0; i < keys.length; i += 16) {
    const slice = keys.slice(i, i + 16);
    const got = await Promise.all(slice.map((k) => recordOfKey(records, k)));
    slice.forEach((k, j) => out.set(k, got[j]));
  }
  return out;
}

/** Scale of the suite: CI (`npm test`) or soak (`npm run test:soak`, BLIPLINE_SOAK=1). */
export const SOAK = process.env.BLIPLINE_SOAK === '1';
