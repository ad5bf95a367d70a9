import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { startServer } from '../api/server.js';
import { loadBlip, type BlipModel } from '../blip/index.js';
import { writeRandomCheckpoint } from '../blip/tools/random-checkpoint.js';
import { tinyConfig } from '../blip/tools/tiny-assets.js';
import { fixturesDir, loadConfig, runtimeEnv, type Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { Metrics } from '../core/metrics.js';
import { repoRoot } from '../core/paths.js';
import { ANONYMOUS_WARNING } from '../auth/index.js';
import { startLocalStack } from '../local/index.js';
import { LOCAL_USERS } from '../local/oidc.js';
import { checkPrerequisites } from '../local/prerequisites.js';
import { blipAnswerer, blipCaptioner } from '../worker/blip-adapter.js';
import { createWorker } from '../worker/deps.js';
import { DEFAULT_CAPTION_MODEL, DEFAULT_VQA_MODEL } from './defaults.js';
import { cliCommand, CliRuntimeError, CliUsageError } from './errors.js';

const USAGE = `usage: blipline dev [--model DIR|HUB_ID] [--vqa-model DIR|HUB_ID] [--port 3000] [--json] [--anonymous]

Starts the whole system locally: S3, SQS, DynamoDB and Redis emulators, an OpenID provider, the API and
one worker. Prints the URL when ready (with --json one line {"api", "s3": {...}, "auth": {...}, "events":
{"queueUrl"}, "webhooks": {"secret"}}; the events queue receives every result event as EventBridge delivers it);
Ctrl-C stops everything. The page signs in at the local provider as alice or bob (any password); scripts
get tokens with a client-credentials POST to auth.tokenUrl. --anonymous turns authentication off (every
source address is one owner): for private demos only.
Model: --model, else BLIPLINE_MODEL, else ${DEFAULT_CAPTION_MODEL}; VQA: --vqa-model, else
BLIPLINE_VQA_MODEL, else ${DEFAULT_VQA_MODEL}. When a default Hub model cannot be fetched, falls back
to the tiny fixture checkpoint (BLIPLINE_FIXTURES), else to a tiny random-weight checkpoint written
into .cache/blipline/tiny-*: captions and answers are then meaningless, and it says so loudly.
Exit codes: 0 stopped by SIGINT/SIGTERM, 2 usage error, 1 start-up failure (one line on stderr).`;

/**
 * The offline stand-in for a default Hub model: the tiny fixture checkpoint when its folder exists,
 * else a tiny random-weight checkpoint (captioning or VQA) written by the project's own writer.
 */
function tinyStandIn(kind: 'captioning' | 'vqa'): { dir: string; what: string } {
  const fixture = path.join(fixturesDir(), `blip-tiny-${kind}`);
  if (existsSync(fixture)) return { dir: fixture, what: `THE TINY FIXTURE CHECKPOINT ${fixture}` };
  const outDir = path.join(repoRoot, '.cache/blipline', `tiny-${kind}`);
  writeRandomCheckpoint({ kind, shapes: tinyConfig(kind), outDir });
  return { dir: outDir, what: `A TINY RANDOM-WEIGHT ${kind.toUpperCase()} CHECKPOINT WRITTEN TO ${outDir}` };
}

/**
 * Loads a model; when the model is a default Hub id and cannot be fetched, loads a tiny stand-in
 * instead and says so loudly.
 */
async function loadWithFallback(
  model: string,
  isDefault: boolean,
  kind: 'captioning' | 'vqa',
  precision: 'fp32' | 'int8',
  logger: Logger,
): Promise<BlipModel & { precision: 'fp32' | 'int8' }> {
  try {
    return Object.assign(await loadBlip({ model, precision, logger }), { precision });
  } catch (error) {
    if (!isDefault) throw error;
    const standIn = tinyStandIn(kind);
    const banner = '!'.repeat(100);
    process.stderr.write(
      `\n${banner}\n!!! could not load ${model} (${error instanceof Error ? error.message.split('\n')[0] : String(error)})\n` +
        `!!! FALLING BACK TO ${standIn.what}\n` +
        `!!! ITS WEIGHTS ARE RANDOM: CAPTIONS AND ANSWERS ARE MEANINGLESS. Pass --model DIR for real captions.\n${banner}\n\n`,
    );
    return Object.assign(await loadBlip({ model: standIn.dir, precision: 'fp32', logger }), { precision: 'fp32' as const });
  }
}

/** `blipline dev`: returns the exit code once stopped by SIGINT/SIGTERM. */
export const runDev = cliCommand('dev', async (argv: string[]): Promise<number> => {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'vqa-model': { type: 'string' },
        port: { type: 'string', default: '3000' },
        json: { type: 'boolean', default: false },
        anonymous: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new CliUsageError(`${error instanceof Error ? error.message.split('\n')[0] : String(error)} (blipline dev --help shows the usage)`, { cause: error });
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new CliUsageError(`--port must be an integer 0..65535, got ${JSON.stringify(args.port)}`);
  }
  // Logs and metrics go to stderr: stdout carries only the URL (or the --json line).
  const logger = createLogger({ name: 'dev', destination: process.stderr });
  const metrics = new Metrics({ service: 'worker', sink: (line) => process.stderr.write(`${line}\n`) });

  const captionModel = args.model ?? runtimeEnv('BLIPLINE_MODEL') ?? DEFAULT_CAPTION_MODEL;
  const vqaModel = args['vqa-model'] ?? runtimeEnv('BLIPLINE_VQA_MODEL') ?? DEFAULT_VQA_MODEL;
  const precision = runtimeEnv('BLIPLINE_PRECISION') ?? 'fp32';

  // What the machine lacks, one line each, before anything starts.
  const prerequisites = await checkPrerequisites();
  for (const line of prerequisites.optional) process.stderr.write(`blipline dev: ${line}\n`);
  if (prerequisites.missing.length > 0) throw new CliRuntimeError(prerequisites.missing.join('\nblipline dev: '));

  const started = await Promise.allSettled([
    startLocalStack({ logger: logger.child({ component: 'local-stack' }) }),
    loadWithFallback(captionModel, captionModel === DEFAULT_CAPTION_MODEL, 'captioning', precision, logger),
    loadWithFallback(vqaModel, vqaModel === DEFAULT_VQA_MODEL, 'vqa', precision, logger),
  ] as const);
  const [stackResult, captionResult, vqaResult] = started;
  if (stackResult.status === 'rejected' || captionResult.status === 'rejected' || vqaResult.status === 'rejected') {
    await Promise.allSettled([
      stackResult.status === 'fulfilled' ? stackResult.value.stop() : undefined,
      captionResult.status === 'fulfilled' ? captionResult.value.dispose() : undefined,
      vqaResult.status === 'fulfilled' ? vqaResult.value.dispose() : undefined,
    ]);
    const failure = [stackResult, captionResult, vqaResult].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    throw new CliRuntimeError(failure.reason instanceof Error ? failure.reason.message : String(failure.reason), { cause: failure.reason });
  }
  const stack = stackResult.value;
  const caption = captionResult.value;
  const vqa = vqaResult.value;

  const env = stack.env();
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  let config: Config;
  try {
    config = loadConfig({ ...process.env, ...env, BLIPLINE_MODEL: caption.name, BLIPLINE_VQA_MODEL: vqa.name, ...(args.anonymous ? { BLIPLINE_AUTH: 'anonymous' } : {}) });
  } catch (error) {
    // e.g. an invalid BLIPLINE_* variable: stop what started, then one line through the CLI's reporter.
    await stack.stop();
    await Promise.allSettled([caption.dispose(), vqa.dispose()]);
    throw error;
  }
  let server;
  try {
    server = await startServer({ config, port, logger: logger.child({ component: 'api' }) });
  } catch (error) {
    await stack.stop();
    await Promise.allSettled([caption.dispose(), vqa.dispose()]);
    throw new CliRuntimeError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const { worker, close: closeWorker } = createWorker(
    config,
    { captioner: blipCaptioner(caption, { precision: caption.precision }), answerer: blipAnswerer(vqa) },
    { logger: logger.child({ component: 'worker' }), metrics },
  );
  const workerDone = worker.start();

  if (config.auth.mode === 'anonymous') process.stderr.write(`\n${'!'.repeat(100)}\n${ANONYMOUS_WARNING}\n${'!'.repeat(100)}\n\n`);
  const { oidc } = stack;
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({
        api: server.url,
        s3: { endpoint: stack.s3.endpoint, region: stack.region, bucket: stack.s3.bucket, accessKeyId: stack.credentials.accessKeyId, secretAccessKey: stack.credentials.secretAccessKey },
        auth: {
          mode: config.auth.mode,
          issuer: oidc.issuer,
          tokenUrl: oidc.tokenUrl,
          audience: oidc.audience,
          clients: oidc.clients,
          scopes: oidc.scopes,
          users: LOCAL_USERS,
        },
        events: { queueUrl: stack.sqs.eventsQueueUrl },
        webhooks: { secret: stack.webhookSecret },
      })}\n`,
    );
  } else {
    process.stdout.write(
      `\nblipline is running: ${server.url}\n  model: ${caption.name}\n  vqa:   ${vqa.name}\n  S3:    ${stack.s3.endpoint} bucket ${stack.s3.bucket} (access key ${stack.credentials.accessKeyId})\n` +
        (config.auth.mode === 'oidc' ? `  sign in: ${LOCAL_USERS.join(' or ')} (any password) at ${oidc.issuer}\n` : '  sign in: none (ANONYMOUS MODE)\n') +
        'Ctrl-C stops everything.\n',
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
});
