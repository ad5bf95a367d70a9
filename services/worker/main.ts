import type { Logger } from 'pino';
import { loadBlip, type BlipModel } from '../blip/index.js';
import { loadConfig, type Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { blipAnswerer, blipCaptioner } from './blip-adapter.js';
import { createWorker } from './deps.js';

export interface LoadedModels {
  caption: BlipModel;
  vqa: BlipModel | undefined;
}

/**
 * Loads the captioning model and, when configured, the VQA model. Threads are left to the runtime's default
 * (`taskVcpus()`: the cgroup CPU quota of the task, not the host's CPU count). Inputs larger than
 * `BLIPLINE_MAX_PIXELS` (50 MP by default: 48-50 MP phone photos in any format) fail `too_many_pixels`, JPEGs above it
 * are decoded shrunk: with decodes bounded to two at a time a receive of large images stays within a 4 GiB task.
 */
export async function loadWorkerModels(config: Pick<Config, 'model' | 'vqaModel' | 'precision' | 'maxPixels' | 'decoderRows'>, logger: Logger): Promise<LoadedModels> {
  const options = { precision: config.precision, maxPixels: config.maxPixels, logger, ...(config.decoderRows ? { decoderRows: config.decoderRows } : {}) };
  if (!config.model) throw new Error('BLIPLINE_MODEL is required');
  const [caption, vqa] = await Promise.all([
    loadBlip({ model: config.model, ...options }),
    config.vqaModel ? loadBlip({ model: config.vqaModel, ...options }) : Promise.resolve(undefined),
  ]);
  return { caption, vqa };
}

/**
 * `blipline worker`: the SQS consumer as a process (the Fargate task's command). SIGTERM/SIGINT
 * stop receiving, finish the job in hand, and exit 0. When receives keep failing (wrong credentials, deleted
 * queue) it backs off exponentially and, after `receiveFailureLimit` failures in a row, exits non-zero.
 */
export async function runWorker(): Promise<number> {
  const config = loadConfig(process.env, { requireModel: true });
  const logger = createLogger({ level: config.logLevel, name: 'worker' });
  const models = await loadWorkerModels(config, logger);
  const { worker, close } = createWorker(
    config,
    { captioner: blipCaptioner(models.caption, { precision: config.precision }), answerer: models.vqa ? blipAnswerer(models.vqa) : undefined },
    { logger },
  );
  const stop = (signal: string) => {
    logger.info({ signal }, 'signal received');
    void worker.stop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    // Rejects when the queue cannot be polled repeatedly: the process then exits non-zero and ECS replaces it.
    await worker.start();
  } finally {
    await close();
    await Promise.all([models.caption.dispose(), models.vqa?.dispose()]);
  }
  return 0;
}
