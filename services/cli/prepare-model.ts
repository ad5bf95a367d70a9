import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadBlip } from '../blip/index.js';
import { resolveModelDir } from '../blip/source/index.js';
import { createLogger } from '../core/logger.js';
import { cliCommand, CliUsageError } from './errors.js';
import { downloadProgressReporter } from './progress.js';

const USAGE = `usage: blipline prepare-model --model DIR|HUB_ID [--out DIR] [--precision fp32|int8]

Fetches a BLIP checkpoint (once; a local folder is used as is), copies it to --out when given, and
compiles its graphs into BLIPLINE_CACHE_DIR, so that later starts need no network and no compilation.`;

const argsSchema = z.object({
  model: z.string({ error: '--model is required' }).min(1),
  out: z.string().min(1).optional(),
  precision: z.enum(['fp32', 'int8'], { error: '--precision must be fp32 or int8' }).default('fp32'),
});

/** `blipline prepare-model`: what the worker image runs at build time. */
export const runPrepareModel = cliCommand('prepare-model', async (argv: string[]): Promise<number> => {
  let values: z.output<typeof argsSchema>;
  try {
    const parsed = parseArgs({
      args: argv,
      strict: true,
      options: { model: { type: 'string' }, out: { type: 'string' }, precision: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (parsed.values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    values = argsSchema.parse(parsed.values);
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
  process.stdout.write(
    `${JSON.stringify({ model: model.name, kind: model.kind, dir: modelDir, precision: values.precision, graphs: model.startup.graphDir, checkpointSha256: model.checkpointSha256 })}\n`,
  );
  return 0;
});
