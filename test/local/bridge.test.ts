import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeS3EventKey } from '../../services/core/keys.js';
import { encodeS3EventKey } from '../../services/local/index.js';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';

const stack = useLocalStack({ redis: 'none' });

const clients = useLocalClients(stack);
const s3 = (): S3Client => clients().s3;
const sqs = (): SQSClient => clients().sqs;

// The shape S3 documents for event notifications (eventVersion 2.1), checked strictly.
const recordSchema = z.object({
  eventVersion: z.literal('2.1'),
  eventSource: z.literal('aws:s3'),
  awsRegion: z.string(),
  eventTime: z.iso.datetime(),
  eventName: z.enum([
    'ObjectCreated:Put',
    'ObjectCreated:Post',
    'ObjectCreated:Copy',
    'ObjectCreated:CompleteMultipartUpload',
  ]),
  userIdentity: z.object({ principalId: z.string() }),
  requestParameters: z.object({ sourceIPAddress: z.string() }),
  responseElements: z.object({ 'x-amz-request-id': z.string(), 'x-amz-id-2': z.string() }),
  s3: z.object({
    s3SchemaVersion: z.literal('1.0'),
    configurationId: z.string(),
    bucket: z.object({ name: z.string(), ownerIdentity: z.object({ principalId: z.string() }), arn: z.string() }),
    object: z.object({
      key: z.string(),
      size: z.number().int().nonnegative(),
      eTag: z.string().regex(/^[0-9a-f]{32}(-\d+)?$/),
      sequencer: z.string().regex(/^[0-9A-F]+$/),
    }),
  }),
});
const notificationSchema = z.object({ Records: z.array(recordSchema).length(1) });
type EventRecord = z.infer<typeof recordSchema>;

/** Receives (and deletes) `count` messages from the main queue. */
async function receive(count: number): Promise<unknown[]> {
  await stack().drainS3Events();
  const bodies: unknown[] = [];
  for (let attempt = 0; bodies.length < count && attempt < 20; attempt++) {
    const { Messages = [] } = await sqs().send(
      new ReceiveMessageCommand({ QueueUrl: stack().sqs.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      bodies.push(JSON.parse(message.Body ?? 'null'));
      await sqs().send(new DeleteMessageCommand({ QueueUrl: stack().sqs.queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  expect(bodies).toHaveLength(count);
  return bodies;
}

async function receiveRecords(count: number): Promise<EventRecord[]> {
  return (await receive(count)).map((body) => notificationSchema.parse(body).Records[0]!);
}

async function putObject(key: string, body: string | Uint8Array = 'hello'): Promise<string> {
  const result = await s3().send(new PutObjectCommand({ Bucket: stack().s3.bucket, Key: key, Body: body }));
  return (result.ETag ?? '').replace(/"/g, '');
}

describe('S3 -> SQS bridge', () => {
  it('sends s3:TestEvent first, as S3 does when the notification is configured', async () => {
    const [body] = await receive(1);
    expect(body).toMatchObject({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: stack().s3.bucket });
  });

  it('forwards a PUT as an S3 event notification', async () => {
    const eTag = await putObject('uploads/0190a4b2-0000-7000-8000-000000000001', 'image bytes');
    const [record] = await receiveRecords(1);
    expect(record).toMatchObject({
      awsRegion: stack().region,
      eventName: 'ObjectCreated:Put',
      s3: {
        bucket: { name: stack().s3.bucket, arn: `arn:aws:s3:::${stack().s3.bucket}` },
        object: { key: 'uploads/0190a4b2-0000-7000-8000-000000000001', size: 11, eTag },
      },
    });
  });

  it('forwards objects with any key (dropped objects too)', async () => {
    await putObject('anywhere/else.jpg');
    await putObject('top-level.png');
    const records = await receiveRecords(2);
    expect(records.map((r) => r.s3.object.key)).toEqual(['anywhere/else.jpg', 'top-level.png']);
  });

  const keys: Array<[string, string]> = [
    ['dropped/a photo.jpg', 'dropped/a+photo.jpg'],
    ['dropped/a+b.png', 'dropped/a%2Bb.png'],
    ['dropped/100% real.png', 'dropped/100%25+real.png'],
    ['dropped/ünïcödé 日本.png', 'dropped/%C3%BCn%C3%AFc%C3%B6d%C3%A9+%E6%97%A5%E6%9C%AC.png'],
    ["dropped/x=(1)!~'*,;:@&$#?.png", 'dropped/x%3D%281%29%21%7E%27*%2C%3B%3A%40%26%24%23%3F.png'],
    ['dropped/emoji 📷.png', 'dropped/emoji+%F0%9F%93%B7.png'],
  ];

  it('URL-encodes keys as S3 does and they decode back (+ -> space, then percent-decoding)', async () => {
    for (const [key] of keys) await putObject(key);
    const records = await receiveRecords(keys.length);
    for (const [index, [key, encoded]] of keys.entries()) {
      const record = records[index]!;
      expect(record.s3.object.key).toBe(encoded);
      expect(encodeS3EventKey(key)).toBe(encoded);
      const decoded = decodeS3EventKey(record.s3.object.key);
      expect(decoded).toBe(key);
      // The decoded key addresses the stored object.
      const head = await s3().send(new HeadObjectCommand({ Bucket: stack().s3.bucket, Key: decoded }));
      expect(head.ContentLength).toBe(record.s3.object.size);
    }
  });

  it('gives later writes of one key a greater sequencer', async () => {
    for (let i = 0; i < 5; i++) await putObject('dropped/overwritten.jpg', `version ${i}`);
    const sequencers = (await receiveRecords(5)).map((r) => r.s3.object.sequencer);
    const width = Math.max(...sequencers.map((s) => s.length));
    const padded = sequencers.map((s) => s.padEnd(width, '0'));
    expect([...padded].sort()).toEqual(padded);
    expect(new Set(padded).size).toBe(5);
  });

  it('names copies ObjectCreated:Copy and reports their ETag', async () => {
    const eTag = await putObject('dropped/original.jpg', 'copy me');
    await s3().send(
      new CopyObjectCommand({ Bucket: stack().s3.bucket, Key: 'dropped/copy.jpg', CopySource: `${stack().s3.bucket}/dropped/original.jpg` }),
    );
    const [put, copy] = await receiveRecords(2);
    expect(put!.eventName).toBe('ObjectCreated:Put');
    expect(copy).toMatchObject({ eventName: 'ObjectCreated:Copy', s3: { object: { key: 'dropped/copy.jpg', size: 7, eTag } } });
  });

  it('names completed multipart uploads ObjectCreated:CompleteMultipartUpload', async () => {
    const bucket = stack().s3.bucket;
    const key = 'dropped/multi part.bin';
    const { UploadId } = await s3().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await s3().send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: new Uint8Array(1234) }),
    );
    await s3().send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    const [record] = await receiveRecords(1);
    expect(record).toMatchObject({
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      s3: { object: { key: 'dropped/multi+part.bin', size: 1234 } },
    });
  });

  it('names browser form uploads ObjectCreated:Post', async () => {
    const presigned = await createPresignedPost(s3(), { Bucket: stack().s3.bucket, Key: 'uploads/posted', Expires: 60 });
    const form = new FormData();
    for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
    form.append('file', new Blob(['posted bytes']), 'posted.bin');
    const response = await fetch(presigned.url, { method: 'POST', body: form });
    expect(response.status).toBe(204);
    const [record] = await receiveRecords(1);
    expect(record).toMatchObject({ eventName: 'ObjectCreated:Post', s3: { object: { key: 'uploads/posted', size: 12 } } });
  });

  it('forwards a presigned PUT from a browser-like client', async () => {
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    const url = await getSignedUrl(s3(), new PutObjectCommand({ Bucket: stack().s3.bucket, Key: 'uploads/presigned' }), { expiresIn: 60 });
    const response = await fetch(url, { method: 'PUT', body: 'abc' });
    expect(response.status).toBe(200);
    const [record] = await receiveRecords(1);
    expect(record).toMatchObject({ eventName: 'ObjectCreated:Put', s3: { object: { key: 'uploads/presigned', size: 3 } } });
  });
});
