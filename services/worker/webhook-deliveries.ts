import type { Logger } from 'pino';
import type { ReceivedMessage } from '../aws/sqs.js';
import { METRICS, type Metrics } from '../core/metrics.js';
import { deliverWebhook, type DeliveryOptions } from '../webhooks/delivery.js';
import { parseWebhookJob } from '../webhooks/jobs.js';
import type { HeldMessages } from './held-messages.js';

/**
 * The webhook delivery queue's jobs, all of a receive at once (one slow receiver never holds up the others, and the
 * captions and questions loops never wait for any): a 2xx deletes the job; any other answer, a timeout or a
 * connection error leaves it for the next attempt after the retry backoff (visibility · 2^attempt), and after the
 * last attempt the queue moves it to its DLQ. A refused target (SSRF rules, not https, off the allow-list) is never
 * called and never retried.
 */
export class WebhookDeliveries {
  constructor(
    private readonly held: HeldMessages,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: DeliveryOptions & { attempts: number },
  ) {}

  async process(messages: ReceivedMessage[]): Promise<void> {
    await Promise.all(messages.map((m) => this.deliver(m)));
  }

  private async deliver(message: ReceivedMessage): Promise<void> {
    const parsed = parseWebhookJob(message.body);
    const log = this.logger.child({ jobId: message.messageId, attempt: message.receiveCount });
    if (!parsed.ok) {
      log.error({ reason: parsed.reason, body: message.body.slice(0, 500) }, 'invalid webhook job: left for the DLQ');
      this.metrics.count(METRICS.failures, 1, { Reason: 'invalid_message' });
      return this.held.abandon(message);
    }
    const { job } = parsed;
    const outcome = await deliverWebhook(job, this.options);
    const where = { webhookId: job.webhookId, host: URL.canParse(job.url) ? new URL(job.url).host : job.url.slice(0, 100) };
    try {
      if (outcome.kind === 'delivered') {
        this.metrics.count(METRICS.webhooksDelivered);
        log.info({ ...where, status: outcome.status }, 'webhook delivered');
        await this.held.delete(message);
      } else if (outcome.kind === 'refused') {
        this.metrics.count(METRICS.failures, 1, { Reason: 'webhook_refused' });
        log.warn({ ...where, reason: outcome.reason }, 'webhook target refused: not delivered, not retried');
        await this.held.delete(message);
      } else {
        const last = message.receiveCount >= this.options.attempts;
        this.metrics.count(METRICS.failures, 1, { Reason: 'webhook_failed' });
        log.warn({ ...where, reason: outcome.reason, lastAttempt: last }, last ? 'webhook delivery failed for the last time: the job goes to the DLQ' : 'webhook delivery failed; retried after a backoff');
        await this.held.abandon(message);
      }
    } catch (error) {
      log.warn({ err: error, ...where }, 'could not settle the webhook job; it comes back after its visibility timeout');
    }
  }
}
