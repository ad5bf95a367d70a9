import { access, cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openCheckpoint, removeCompiledWeights, WEIGHTS_INDEX_FILE } from '../blip/checkpoint/index.js';
import { defaultCacheDir, loadBlip } from '../blip/index.js';
import { resolveModelDir } from '../blip/source/index.js';
import { createLogger } from '../core/logger.js';
import { cliCommand, CliUsageError } from './errors.js';
import { downloadProgressReporter } from './progress.js';

const USAGE = `usage: blipline prepare-model --model DIR|HUB_ID[@REVISION] [--out DIR] [--precision fp32|int8] [--remove-weights]

Fetches a BLIP checkpoint (once; a local folder is used as is; a Hub id may pin a commit sha or tag with
@REVISION), copies it to --out when given, and compiles its graphs into BLIPLINE_CACHE_DIR, so that later
starts need no network and no compilation. --remove-weights (with --out) then deletes the weights from
--out: the folder starts from those compiled graphs only (the worker image ships it that way).`;

const argsSchema = z.object({
  model: z.string({ error: '--model is required' }).min(1),
  out: z.string().min(1).optional(),
  precision: z.enum(['fp32', 'int8'], { error: '--precision must be fp32 or int8' }).default('fp32'),
  'remove-weights': z.boolean().default(false),
});

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** `blipline prepare-model`: what the worker image runs at build time. */
export const runPrepareModel = cliCommand('prepare-model', async (argv: string[]): Promise<number> => {
  let values: z.output<typeof argsSchema>;
  try {
    const parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        model: { type: 'string' },
        out: { type: 'string' },
        precision: { type: 'string' },
        'remove-weights': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (parsed.values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    values = argsSchema.parse(parsed.values);
    if (values['remove-weights'] && values.out === undefined) throw new Error('--remove-weights needs --out (it never deletes from the source folder or the download cache)');
  } catch (error) {
    const message = error instanceof z.ZodError ? error.issues[0]?.message : (error as Error).message.split('\n')[0];
    throw new CliUsageError(`${message ?? 'invalid arguments'} (blipline prepare-model --help shows the usage)`, { cause: error });
  }
  const source = await resolveModelDir(values.model, { onProgress: downloadProgressReporter() });
  const modelDir = values.out ? path.resolve(values.out) : source;
  if (modelDir !== source) {
    await mkdir(modelDir, { recursive: true });
    await cp(source, modelDir, { recursive: true, preserveTimestamps: true });
  }
  const model = await loadBlip({
    model: modelDir,
    precision: values.precision,
    logger: createLogger({ name: 'blipline-prepare', destination: process.stderr, defaultLevel: 'info' }),
  });
  await model.dispose();
  let removedWeights: string[] = [];
  if (values['remove-weights']) {
    const checkpoint = await openCheckpoint(modelDir, { cacheDir: defaultCacheDir() });
    const index = path.join(modelDir, WEIGHTS_INDEX_FILE);
    const files = [...checkpoint.weightFiles, ...((await exists(index)) ? [index] : [])];
    if (files.length > 0) {
      removedWeights = (await removeCompiledWeights(modelDir, files, { checkpointSha256: model.checkpointSha256, precision: values.precision })).removed;
    }
  }
  process.stdout.write(
    `${JSON.stringify({ model: model.name, kind: model.kind, dir: modelDir, precision: values.precision, graphs: model.startup.graphDir, checkpointSha256: model.checkpointSha256, removedWeights })}\n`,
  );
  return 0;
});
