import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runtimeEnv } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { type ImageInput, loadBlip } from '../blip/index.js';
import { DEFAULT_CAPTION_MODEL } from './defaults.js';
import { cliCommand, CliUsageError } from './errors.js';
import { readSources, toImageInputs } from './image-inputs.js';
import { downloadProgressReporter } from './progress.js';
import { candidateArgOptions, candidateTextLines, loadMatcher, parseCandidateArgs, shapeCandidates } from './rerank.js';

/** `blipline caption`: the contract in DESIGN.md. */

export { DEFAULT_CAPTION_MODEL };

const USAGE = `usage: blipline caption IMAGE... [--model DIR|HUB_ID] [--prompt TEXT] [--beams N] [--max-new-tokens N]
                        [--repetition-penalty X] [--pixel-values FILE.f32] [--json]
                        [--precision fp32|int8] [--compare-precision] [--threads N]
                        [--candidates N [--rerank [--rerank-model DIR|HUB_ID]]]

Captions each IMAGE (JPEG, PNG, WebP, AVIF, GIF, TIFF). --pixel-values reads a raw little-endian float32
[1,3,H,W] tensor instead (repeatable; replaces IMAGE). --json prints one object per image and line:
{"image", "text", "tokenIds", "timingsMs", "cacheHit"}. --compare-precision captions with the float32 and
the int8 graphs and prints both (JSON: one line per image and precision, with "precision"). Model: --model,
else BLIPLINE_MODEL, else ${DEFAULT_CAPTION_MODEL}. Compiled graphs are cached in BLIPLINE_CACHE_DIR (default .cache/blipline/graphs).
--candidates N keeps the N best beams (JSON "candidates", with "beamScore"); --rerank orders them by the image-text
matching probability of --rerank-model (default Salesforce/blip-itm-base-coco) and prints the best one.`;

/** Failure of the command's own argument checks (exit 2): the message is the one line printed. */
class CaptionArgsError extends CliUsageError {}

const integerFlag = (flag: string, min: number) =>
  z
    .string()
    .regex(/^\d+$/, `${flag} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min, `${flag} must be at least ${min}`);

const argsSchema = z.object({
  model: z.string().min(1).optional(),
  prompt: z.string().optional(),
  beams: integerFlag('--beams', 1).optional(),
  'max-new-tokens': integerFlag('--max-new-tokens', 1).optional(),
  'repetition-penalty': z
    .string()
    .transform(Number)
    .refine((x) => Number.isFinite(x) && x > 0, '--repetition-penalty must be a positive number')
    .optional(),
  'pixel-values': z.array(z.string()).optional(),
  precision: z.enum(['fp32', 'int8'], { error: '--precision must be fp32 or int8' }).optional(),
  'compare-precision': z.boolean(),
  threads: integerFlag('--threads', 1).optional(),
  json: z.boolean(),
  help: z.boolean(),
});

function parseCaptionArgs(argv: string[]) {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string' },
        prompt: { type: 'string' },
        beams: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        'repetition-penalty': { type: 'string' },
        'pixel-values': { type: 'string', multiple: true },
        precision: { type: 'string' },
        'compare-precision': { type: 'boolean', default: false },
        threads: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        ...candidateArgOptions,
      },
    });
  } catch (error) {
    throw new CaptionArgsError((error as Error).message.split('\n')[0] ?? 'invalid arguments', { cause: error });
  }
  const values = argsSchema.safeParse(parsed.values);
  if (!values.success) throw new CaptionArgsError(values.error.issues[0]?.message ?? 'invalid arguments');
  const pixelFiles = values.data['pixel-values'] ?? [];
  if (!values.data.help) {
    if (pixelFiles.length > 0 && parsed.positionals.length > 0) {
      throw new CaptionArgsError('--pixel-values replaces the IMAGE arguments; give one or the other');
    }
    if (pixelFiles.length === 0 && parsed.positionals.length === 0) throw new CaptionArgsError('no image given');
    if (values.data['compare-precision'] && values.data.precision) {
      throw new CaptionArgsError('--compare-precision runs both precisions; leave out --precision');
    }
  }
  return { ...values.data, ...parseCandidateArgs(parsed.values), images: parsed.positionals, pixelFiles };
}

export const runCaption = cliCommand('caption', async (argv: string[]): Promise<number> => {
  const args = parseCaptionArgs(argv);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const sources = args.pixelFiles.length > 0 ? args.pixelFiles : args.images;
  const inputs = await readSources(sources.map((path) => ({ kind: args.pixelFiles.length > 0 ? 'pixels' : 'file', path })));

  const compare = args['compare-precision'];
  const matcher = await loadMatcher(args, { ...(args.threads ? { threads: args.threads } : {}) });
  for (const precision of compare ? (['fp32', 'int8'] as const) : [args.precision]) {
    const loadStarted = performance.now();
    const model = await loadBlip({
      model: args.model ?? runtimeEnv('BLIPLINE_MODEL') ?? DEFAULT_CAPTION_MODEL,
      ...(precision ? { precision } : {}),
      ...(args.threads ? { threads: args.threads } : {}),
      onDownloadProgress: downloadProgressReporter(),
      logger: createLogger({ name: 'blipline-cli', destination: process.stderr, defaultLevel: 'warn' }),
    });
    const loadMs = performance.now() - loadStarted;
    try {
      const images = await toImageInputs(inputs, model.startup.modelDir);
      const results = await model.caption(images, {
        ...(args.prompt !== undefined ? { prompt: args.prompt } : {}),
        ...(args.beams ? { beams: args.beams } : {}),
        ...(args['max-new-tokens'] ? { maxNewTokens: args['max-new-tokens'] } : {}),
        ...(args['repetition-penalty'] ? { repetitionPenalty: args['repetition-penalty'] } : {}),
        ...(args.candidates ? { candidates: args.candidates } : {}),
      });
      for (const [index, result] of results.entries()) {
        const image = sources[index] as string;
        const shaped = await shapeCandidates(result, images[index] as ImageInput, matcher);
        if (args.json) {
          const timingsMs = { ...result.timingsMs, load: loadMs, compile: model.startup.compileMs };
          const line = { image, text: shaped.text, tokenIds: shaped.tokenIds, timingsMs, cacheHit: model.startup.cacheHit, ...(shaped.candidates ? { candidates: shaped.candidates } : {}) };
          process.stdout.write(`${JSON.stringify(compare ? { ...line, precision } : line)}\n`);
        } else {
          const label = `${sources.length === 1 ? '' : `${image}: `}${compare ? `${precision}: ` : ''}`;
          process.stdout.write(`${label}${shaped.text}\n${shaped.candidates ? candidateTextLines(shaped.candidates) : ''}`);
        }
      }
    } finally {
      await model.dispose();
    }
  }
  await matcher?.dispose();
  return 0;
});
