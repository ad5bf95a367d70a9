import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsClient } from '../../services/aws/clients.js';
import { Queue } from '../../services/aws/sqs.js';
import { createLogger } from '../../services/core/logger.js';
import { Metrics } from '../../services/core/metrics.js';
import { Heartbeat } from '../../services/worker/heartbeat.js';
import { HeldMessages } from '../../services/worker/held-messages.js';
import { ReceiveLoop } from '../../services/worker/receive-loop.js';
import { WebhookDeliveries } from '../../services/worker/webhook-deliveries.js';
import { configFor, waitFor } from '../pipeline/support.js';
import { useLocalStack } from '../support/local-stack.js';

// The delivery loop alone on the stack's webhook queue (no worker consumes it in this file).
const stack = useLocalStack({ redis: 'none' });
const logger = createLogger({ level: 'silent' });

/** A receiver that never answers a request's first attempt and answers 200 to the next; every request is kept. */
const requests: { webhookId: string; closedUnanswered: boolean }[] = [];
const unanswered: ServerResponse[] = [];
let receiver: Server;
let url: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const entry = { webhookId: String(req.headers['webhook-id']), closedUnanswered: false };
    requests.push(entry);
    req.resume();
    if (requests.length === 1) {
      unanswered.push(res);
      res.on('close', () => (entry.closedUnanswered = !res.writableEnded));
    } else {
      res.writeHead(200).end();
    }
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  for (const res of unanswered) res.destroy();
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

describe('the webhook delivery loop', () => {
  it('gives up on an attempt at its timeout and delivers on the next one, after the queue\'s backoff', { timeout: 60_000 }, async () => {
    const config = configFor(stack());
    const queue = new Queue(createSqsClient(config), stack().sqs.webhookQueueUrl);
    const options = { visibilityTimeoutSeconds: 2, maxReceiveCount: 8, batchSize: 10, waitSeconds: 1, receiveFailureLimit: 8, maxJobMs: 60_000 };
    const held = new HeldMessages(queue, logger, options);
    const metrics = new Metrics({ service: 'worker', sink: null });
    const deliveries = new WebhookDeliveries(held, metrics, logger, { secret: stack().webhookSecret, policy: config.webhooks, timeoutMs: 1_000, attempts: 8 });
    const stop = new AbortController();
    const identity = { workerId: 'delivery-loop-test', captioner: 'none', captionKey: 'none', vqa: null };
    const running = new ReceiveLoop(queue, held, new Heartbeat(held, undefined, logger, options), { sync: async () => undefined }, (m) => deliveries.process(m), logger, stop.signal, options, identity).run();
    try {
      await queue.send({ type: 'webhook', url, webhookId: 'evt-timeout-1', body: '{"detail-type":"Image Captioned"}' });
      await waitFor(async () => requests.length, (n) => n >= 2, 45_000, 'a second attempt');
      const empty = async () => {
        const out = await createSqsClient(config).send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
        return out.Attributes?.ApproximateNumberOfMessages === '0' && out.Attributes?.ApproximateNumberOfMessagesNotVisible === '0';
      };
      expect(await waitFor(empty, Boolean, 30_000, 'the job deleted after the delivery')).toBe(true);
      expect(requests).toHaveLength(2);
      expect(requests.map((r) => r.webhookId)).toEqual(['evt-timeout-1', 'evt-timeout-1']);
      // The first attempt was cut by the sender at its timeout, never answered.
      expect(requests[0]!.closedUnanswered).toBe(true);
      expect(metrics.totals.get('WebhooksDelivered')).toBe(1);
    } finally {
      stop.abort();
      await running;
    }
  });
});
