import { z } from 'zod';
import type { PublishTarget, ResultPublisher } from '../aws/result-publisher.js';
import { eventEnvelope } from '../aws/result-publisher.js';
import type { Queue } from '../aws/sqs.js';
import type { ResultEvent } from '../core/result-events.js';

/** One webhook delivery on the delivery queue: where to, the id (the result's event id) and the exact body. */
export const webhookJobSchema = z.strictObject({
  type: z.literal('webhook'),
  url: z.string(),
  webhookId: z.string().min(1),
  body: z.string(),
});
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/** Reads a delivery-queue body; why not when it is not a webhook job. */
export function parseWebhookJob(body: string): { ok: true; job: WebhookJob } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = webhookJobSchema.safeParse(value);
  return parsed.success ? { ok: true, job: parsed.data } : { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') };
}

/**
 * The account id in an SQS queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`), so a webhook's
 * envelope names the same account an EventBridge delivery would.
 */
export function accountOfQueueUrl(queueUrl: string): string {
  return new URL(queueUrl).pathname.split('/')[1] ?? '';
}

/**
 * Publishes on the bus first, then, for an image with a webhook, enqueues its delivery: the envelope EventBridge
 * would deliver, under the result's event id. Both happen before the job's message is deleted, so a failure of
 * either leaves it for redelivery (the delivery may then be enqueued twice: receivers de-duplicate by webhook-id).
 */
export class WebhookEnqueuer implements ResultPublisher {
  constructor(
    private readonly bus: ResultPublisher,
    private readonly deliveries: Queue,
    private readonly where: { region: string },
  ) {}

  async publish(event: ResultEvent, target: PublishTarget = {}): Promise<void> {
    await this.bus.publish(event, target);
    if (!target.webhook) return;
    const envelope = eventEnvelope(event, { account: accountOfQueueUrl(this.deliveries.url), region: this.where.region });
    const job: WebhookJob = { type: 'webhook', url: target.webhook.url, webhookId: event.detail.eventId, body: JSON.stringify(envelope) };
    await this.deliveries.send(job);
  }
}
