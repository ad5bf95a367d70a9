import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { startServer } from '../api/server.js';
import { loadBlip, type BlipModel } from '../blip/index.js';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { Metrics } from '../core/metrics.js';
import { startLocalStack } from '../local/index.js';
import { blipAnswerer, blipCaptioner } from '../worker/blip-adapter.js';
import { createWorker } from '../worker/deps.js';

export const DEFAULT_CAPTION_MODEL = 'Salesforce/blip-image-captioning-base';
export const DEFAULT_VQA_MODEL = 'Salesforce/blip-vqa-base';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function fixtureDir(name: string): string {
  return path.join(process.env.BLIPLINE_FIXTURES ?? path.resolve(repoRoot, '../shared/fixtures/blip-tiny'), name);
}

const USAGE = `usage: blipline dev [--model DIR|HUB_ID] [--vqa-model DIR|HUB_ID] [--port 3000] [--json]

Starts the whole system locally: S3, SQS, DynamoDB and Redis emulators, the API and one worker.
Prints the URL when ready (with --json one line {"api", "s3": {...}}); Ctrl-C stops everything.
Model: --model, else BLIPLINE_MODEL, else ${DEFAULT_CAPTION_MODEL} (falls back to the tiny
fixture checkpoint, whose captions are meaningless, when the Hub cannot be reached).`;

/**
 * Loads a model; when the model is the default Hub id and cannot be fetched, loads the tiny
 * fixture checkpoint instead and says so loudly.
 */
async function loadWithFallback(
  model: string,
  isDefault: boolean,
  fixture: string,
  precision: 'fp32' | 'int8',
  logger: Logger,
): Promise<BlipModel & { precision: 'fp32' | 'int8' }> {
  try {
    return Object.assign(await loadBlip({ model, precision, logger }), { precision });
  } catch (error) {
    if (!isDefault || !existsSync(fixture)) throw error;
    const banner = '!'.repeat(100);
    process.stderr.write(
      `\n${banner}\n!!! could not load ${model} (${error instanceof Error ? error.message : String(error)})\n` +
        `!!! FALLING BACK TO THE TINY FIXTURE CHECKPOINT ${fixture}\n` +
        `!!! ITS WEIGHTS ARE RANDOM: CAPTIONS AND ANSWERS ARE MEANINGLESS. Pass --model DIR for real captions.\n${banner}\n\n`,
    );
    return Object.assign(await loadBlip({ model: fixture, precision: 'fp32', logger }), { precision: 'fp32' as const });
  }
}

/** `blipline dev`: returns the exit code once stopped by SIGINT/SIGTERM. */
export async function runDev(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'vqa-model': { type: 'string' },
        port: { type: 'string', default: '3000' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`blipline dev: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`blipline dev: --port must be an integer 0..65535, got ${JSON.stringify(args.port)}\n`);
    return 2;
  }
  // Logs and metrics go to stderr: stdout carries only the URL (or the --json line).
  const logger = createLogger({ level: (process.env.LOG_LEVEL as 'info' | undefined) ?? 'info', name: 'dev', destination: process.stderr });
  const metrics = new Metrics({ service: 'worker', sink: (line) => process.stderr.write(`${line}\n`) });

  const captionModel = args.model ?? process.env.BLIPLINE_MODEL ?? DEFAULT_CAPTION_MODEL;
  const vqaModel = args['vqa-model'] ?? process.env.BLIPLINE_VQA_MODEL ?? DEFAULT_VQA_MODEL;
  const precision = process.env.BLIPLINE_PRECISION === 'int8' ? 'int8' : 'fp32';

  const started = await Promise.allSettled([
    startLocalStack({ logger: logger.child({ component: 'local-stack' }) }),
    loadWithFallback(captionModel, captionModel === DEFAULT_CAPTION_MODEL, fixtureDir('blip-tiny-captioning'), precision, logger),
    loadWithFallback(vqaModel, vqaModel === DEFAULT_VQA_MODEL, fixtureDir('blip-tiny-vqa'), precision, logger),
  ] as const);
  const [stackResult, captionResult, vqaResult] = started;
  if (stackResult.status === 'rejected' || captionResult.status === 'rejected' || vqaResult.status === 'rejected') {
    await Promise.allSettled([
      stackResult.status === 'fulfilled' ? stackResult.value.stop() : undefined,
      captionResult.status === 'fulfilled' ? captionResult.value.dispose() : undefined,
      vqaResult.status === 'fulfilled' ? vqaResult.value.dispose() : undefined,
    ]);
    const failure = [stackResult, captionResult, vqaResult].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    const reason = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
    process.stderr.write(`blipline dev: ${reason.split('\n').join(' ')}\n`);
    return 1;
  }
  const stack = stackResult.value;
  const caption = captionResult.value;
  const vqa = vqaResult.value;

  const env = stack.env();
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const config = loadConfig({ ...process.env, ...env, BLIPLINE_MODEL: caption.name, BLIPLINE_VQA_MODEL: vqa.name });
  let server;
  try {
    server = await startServer({ config, port, logger: logger.child({ component: 'api' }) });
  } catch (error) {
    await stack.stop();
    await Promise.allSettled([caption.dispose(), vqa.dispose()]);
    process.stderr.write(`blipline dev: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const { worker, close: closeWorker } = createWorker(
    config,
    { captioner: blipCaptioner(caption, { precision: caption.precision }), answerer: blipAnswerer(vqa) },
    { logger: logger.child({ component: 'worker' }), metrics },
  );
  const workerDone = worker.start();

  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({ api: server.url, s3: { endpoint: stack.s3.endpoint, region: stack.region, bucket: stack.s3.bucket, accessKeyId: stack.credentials.accessKeyId, secretAccessKey: stack.credentials.secretAccessKey } })}\n`,
    );
  } else {
    process.stdout.write(
      `\nblipline is running: ${server.url}\n  model: ${caption.name}\n  vqa:   ${vqa.name}\n  S3:    ${stack.s3.endpoint} bucket ${stack.s3.bucket} (access key ${stack.credentials.accessKeyId})\nCtrl-C stops everything.\n`,
    );
  }

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await worker.stop();
  await workerDone;
  await Promise.allSettled([server.close(), closeWorker()]);
  await stack.stop();
  await Promise.allSettled([caption.dispose(), vqa.dispose()]);
  return 0;
}
