import { randomUUID } from 'node:crypto';
import { Queue, type ReceivedMessage } from '../../services/aws/sqs.js';
import type { LocalStack } from '../../services/local/index.js';
import { loadConfig, type Config } from '../../services/core/config.js';

/**
 * The validated configuration for a local stack (plus overrides), as the API and worker read it.
 * The stack's credentials go into process.env because the AWS SDK's default chain reads them there.
 */
export function configFor(stack: LocalStack, overrides: Record<string, string> = {}): Config {
  const env = stack.env();
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  return loadConfig({
    ...env,
    // Every test file gets its own key space in the shared Redis, even across runs.
    BLIPLINE_REDIS_PREFIX: `${env.BLIPLINE_REDIS_PREFIX ?? 'blipline-test:'}${randomUUID().slice(0, 8)}:`,
    LOG_LEVEL: 'warn',
    ...overrides,
  });
}

/** Polls `read` until `done` holds (or throws after `timeoutMs`). */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

/** A queue that counts how often each message was delivered (by message id). */
export class CountingQueue extends Queue {
  readonly deliveries = new Map<string, number>();
  override async receive(options: Parameters<Queue['receive']>[0]): Promise<ReceivedMessage[]> {
    const messages = await super.receive(options);
    for (const m of messages) this.deliveries.set(m.messageId, (this.deliveries.get(m.messageId) ?? 0) + 1);
    return messages;
  }
}
