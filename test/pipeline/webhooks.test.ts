import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Webhook } from 'standardwebhooks';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import { createLogger } from '../../services/core/logger.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsClient } from '../../services/aws/clients.js';
import type { ImageRecord } from '../../services/core/records.js';
import { parseEventEnvelope } from '../../services/core/result-events.js';
import { authHeader } from '../support/auth.js';
import { fixturePath } from '../support/fixtures.js';
import { useLocalStack } from '../support/local-stack.js';
import { loadCaptioner } from './models.js';
import { configFor, useApiAndWorker, waitFor } from './support.js';

const stack = useLocalStack({ redis: 'none', webhookAttempts: 3 });
interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}
/** The receiver's answer per path (each test its own path); every request is kept. */
const answers = new Map<string, (res: ServerResponse, attempt: number) => void>();
const received: Received[] = [];
/** Requests the receiver holds without answering. */
const held: ServerResponse[] = [];
let receiver: Server;
let receiverUrl: string;

const alice = () => authHeader(stack(), 'alice');

async function uploadWith(name: string, webhookPath?: string): Promise<{ status: number; imageId?: string; error?: { code: string; message: string } }> {
  const bytes = await readFile(fixturePath('images', name));
  const res = await app().request('/v1/uploads', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(await alice()) },
    body: JSON.stringify({ contentType: 'image/jpeg', contentLength: bytes.byteLength, ...(webhookPath !== undefined ? { webhook: { url: webhookPath.startsWith('/') ? `${receiverUrl}${webhookPath}` : webhookPath } } : {}) }),
  });
  const body = (await res.json()) as { imageId?: string; upload?: { url: string; headers: Record<string, string> }; error?: { code: string; message: string } };
  if (res.status !== 201) return { status: res.status, error: body.error };
  expect((await fetch(body.upload!.url, { method: 'PUT', headers: body.upload!.headers, body: bytes })).status).toBe(200);
  return { status: 201, imageId: body.imageId };
}

const status = async (imageId: string) => ((await (await app().request(`/v1/images/${imageId}`, { headers: await alice() })).json()) as ImageRecord).status;
const at = (path: string) => received.filter((r) => r.path === path);

async function webhookQueueEmpty(): Promise<boolean> {
  const out = await createSqsClient(config()).send(new GetQueueAttributesCommand({ QueueUrl: config().webhooks.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return out.Attributes?.ApproximateNumberOfMessages === '0' && out.Attributes?.ApproximateNumberOfMessagesNotVisible === '0';
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      (answers.get(path) ?? ((r) => r.writeHead(200).end()))(res, at(path).length);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

// Short backoffs (visibility 2 s: 4 s, then 8 s) and a long timeout, so a held request is still held while captions go on.
const system = useApiAndWorker(async () => {
  const config = configFor(stack(), { BLIPLINE_WEBHOOK_VISIBILITY_SECONDS: '2', BLIPLINE_WEBHOOK_TIMEOUT_SECONDS: '30', BLIPLINE_WEBHOOK_ATTEMPTS: '3' });
  const { captioner, model } = await loadCaptioner();
  return { config, models: { captioner }, dispose: () => model.dispose(), worker: { waitSeconds: 1, visibilityTimeoutSeconds: 10 } };
});
const app = () => system().app;
const config = () => system().config;

afterAll(async () => {
  for (const res of held) res.destroy();
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

describe('webhooks on the local stack', () => {
  it('delivers the caption event to the upload\'s webhook, signed with the stack\'s secret', async () => {
    const { imageId } = await uploadWith('photo_chelsea.jpg', '/signed');
    const [hook] = await waitFor(async () => at('/signed'), (r) => r.length > 0, 60_000, 'the webhook');
    expect(hook!.headers['content-type']).toBe('application/json');
    const headers = { 'webhook-id': String(hook!.headers['webhook-id']), 'webhook-timestamp': String(hook!.headers['webhook-timestamp']), 'webhook-signature': String(hook!.headers['webhook-signature']) };
    const envelope = parseEventEnvelope(new Webhook(stack().webhookSecret).verify(hook!.body, headers));
    expect(envelope['detail-type']).toBe('Image Captioned');
    expect(envelope.detail).toMatchObject({ imageId, owner: 'alice', status: 'done', object: { bucket: config().bucket, key: `uploads/${imageId}` } });
    expect(headers['webhook-id']).toBe(envelope.detail.eventId);
    // The owner sees the webhook on the record.
    const record = (await (await app().request(`/v1/images/${imageId}`, { headers: await alice() })).json()) as ImageRecord;
    expect(record.webhook).toEqual({ url: `${receiverUrl}/signed` });
    expect(await waitFor(webhookQueueEmpty, (empty) => empty, 30_000, 'delivery queue empty')).toBe(true);
  });

  it('retries after 500s through the queue\'s backoff, under the same webhook-id', async () => {
    answers.set('/flaky', (res, attempt) => res.writeHead(attempt < 3 ? 500 : 200).end());
    await uploadWith('photo_chelsea.jpg', '/flaky');
    const attempts = await waitFor(async () => at('/flaky'), (r) => r.length >= 3, 90_000, 'three attempts');
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
    expect(await waitFor(webhookQueueEmpty, (empty) => empty, 30_000, 'delivery queue empty')).toBe(true);
  });

  it('after the last attempt the delivery is in the DLQ', async () => {
    answers.set('/down', (res) => res.writeHead(503).end());
    await uploadWith('photo_chelsea.jpg', '/down');
    await waitFor(async () => at('/down'), (r) => r.length >= 3, 90_000, 'three attempts');
    const dlqDepth = async () => {
      const out = await createSqsClient(config()).send(new GetQueueAttributesCommand({ QueueUrl: stack().sqs.webhookDlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
    };
    expect(await waitFor(dlqDepth, (n) => n === 1, 30_000, 'the job in the DLQ')).toBe(1);
    expect(at('/down')).toHaveLength(3);
  });

  it('a receiver that never answers does not hold up captioning', async () => {
    answers.set('/silent', (res) => held.push(res));
    const first = await uploadWith('photo_chelsea.jpg', '/silent');
    await waitFor(async () => held.length, (n) => n === 1, 60_000, 'the silent receiver holding a delivery');
    const second = await uploadWith('photo_chelsea.jpg');
    expect(await waitFor(() => status(second.imageId!), (s) => s === 'done', 60_000, 'the next upload captioned')).toBe('done');
    expect(await status(first.imageId!)).toBe('done');
    // The delivery is still held (30 s timeout) while the next image was captioned.
    expect(held).toHaveLength(1);
    expect(held[0]!.writableEnded).toBe(false);
  });

  it('refuses webhook URLs outside the policy at upload time', async () => {
    const bad = await uploadWith('photo_chelsea.jpg', 'ftp://example.com/hook');
    expect(bad).toMatchObject({ status: 400, error: { code: 'invalid_webhook' } });
    const metadata = await uploadWith('photo_chelsea.jpg', 'http://169.254.169.254/latest/meta-data/');
    expect(metadata).toMatchObject({ status: 400, error: { code: 'invalid_webhook', message: expect.stringMatching(/link-local/) } });
    // A deployment without a delivery queue takes no webhooks at all.
    const deps = createApiDeps({ ...config(), webhooks: { ...config().webhooks, queueUrl: undefined } }, createLogger({ level: 'silent' }));
    try {
      const res = await createApp(deps).request('/v1/uploads', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(await alice()) },
        body: JSON.stringify({ contentType: 'image/jpeg', contentLength: 10, webhook: { url: `${receiverUrl}/none` } }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('webhooks_unavailable');
    } finally {
      await deps.close();
    }
  });
});
