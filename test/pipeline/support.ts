import { randomUUID } from 'node:crypto';
import { Queue, type ReceivedMessage } from '../../services/aws/sqs.js';
import type { LocalStack } from '../../services/local/index.js';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import type { ResultPublisher } from '../../services/aws/result-publisher.js';
import { loadConfig, type Config } from '../../services/core/config.js';
import { createLogger } from '../../services/core/logger.js';
import { Metrics } from '../../services/core/metrics.js';
import type { Captioner, QuestionAnswerer } from '../../services/worker/captioner.js';
import { createWorker } from '../../services/worker/deps.js';
import type { WorkerOptions } from '../../services/worker/options.js';

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

/** The API app and a worker over one local stack, built in beforeAll and stopped in afterAll. */
export interface ApiAndWorker {
  config: Config;
  app: ReturnType<typeof createApp>;
}

/**
 * Builds the API (createApiDeps, as the server does) and a worker (createWorker) once per test file; `setup` picks
 * the configuration and models. Returns a getter to call inside tests.
 */
export function useApiAndWorker(
  setup: () => Promise<{ config: Config; models: { captioner: Captioner; answerer?: QuestionAnswerer }; dispose: () => Promise<void>; publisher?: ResultPublisher; worker?: Partial<WorkerOptions> }>,
): () => ApiAndWorker {
  let built: (ApiAndWorker & { stop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    const { config, models, dispose, publisher, worker: workerOptions } = await setup();
    const logger = createLogger({ level: 'silent' });
    const api = createApiDeps({ ...config, vqaModel: models.answerer ? 'fixture' : undefined }, logger);
    const worker = createWorker(config, models, { logger, metrics: new Metrics({ service: 'worker', sink: null }), publisher, worker: workerOptions });
    const running = worker.worker.start();
    built = {
      config,
      app: createApp(api),
      async stop() {
        await worker.worker.stop();
        await running;
        await worker.close();
        await api.close();
        await dispose();
      },
    };
  }, 120_000);
  afterAll(async () => {
    await built?.stop();
  }, 60_000);
  return () => {
    if (!built) throw new Error('useApiAndWorker: not built yet (use it inside tests or hooks)');
    return built;
  };
}
