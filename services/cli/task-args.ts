import { type ParseArgsConfig, parseArgs } from 'node:util';
import { z } from 'zod';
import { runtimeEnv } from '../core/config.js';
import { DEFAULT_RETRIEVAL_MODEL, DEFAULT_VQA_MODEL } from './defaults.js';
import { CliUsageError } from './errors.js';
import type { ImageSource } from './image-inputs.js';

/**
 * Argument parsing of `blipline ask` and `blipline score` (contract in DESIGN.md), validated with zod.
 * Errors are `TaskArgsError`s whose message is the one line the CLI prints.
 */

/** A usage error of `ask` / `score` (exit 2). */
export class TaskArgsError extends CliUsageError {}

export { DEFAULT_RETRIEVAL_MODEL, DEFAULT_VQA_MODEL };

export const ASK_USAGE =
  'usage: blipline ask IMAGE... --question TEXT [--model DIR|HUB_ID] [--beams N] [--max-new-tokens N] [--pixel-values FILE.f32] [--json] [--precision fp32|int8] [--threads N]';
export const SCORE_USAGE =
  'usage: blipline score IMAGE --text TEXT [--text TEXT...] [--model DIR|HUB_ID] [--pixel-values FILE.f32] [--json] [--precision fp32|int8] [--threads N]';

const positiveInt = (flag: string) =>
  z
    .string()
    .regex(/^\d+$/, `${flag} must be a positive integer`)
    .transform(Number)
    .refine((n) => n >= 1, `${flag} must be at least 1`);

function firstIssue(error: z.ZodError): string {
  return error.issues[0]?.message ?? 'invalid arguments';
}

function parse(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>, usage: string) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new TaskArgsError(`${(error as Error).message.split('\n')[0]} (${usage})`, { cause: error });
  }
}


function imageSources(positionals: readonly string[], pixelValues: unknown): ImageSource[] {
  const files = z.array(z.string()).optional().parse(pixelValues);
  if (files && files.length > 0) {
    if (positionals.length > 0) throw new TaskArgsError(`--pixel-values replaces the IMAGE arguments; give one or the other`);
    return files.map((path) => ({ kind: 'pixels', path }));
  }
  if (positionals.length === 0) throw new TaskArgsError(`no image given`);
  return positionals.map((path) => ({ kind: 'file', path }));
}

/** Runtime flags every model-loading command takes. */
export interface RuntimeArgs {
  readonly precision?: 'fp32' | 'int8';
  readonly threads?: number;
}

const runtimeOptions = {
  precision: { type: 'string' },
  threads: { type: 'string' },
} as const;

const runtimeSchema = {
  precision: z.enum(['fp32', 'int8'], { error: '--precision must be fp32 or int8' }).optional(),
  threads: positiveInt('--threads').optional(),
};

function runtimeArgs(values: { precision?: 'fp32' | 'int8' | undefined; threads?: number | undefined }): RuntimeArgs {
  return { ...(values.precision ? { precision: values.precision } : {}), ...(values.threads ? { threads: values.threads } : {}) };
}

export interface AskArgs extends RuntimeArgs {
  readonly images: ImageSource[];
  readonly question: string;
  readonly model: string;
  readonly beams?: number;
  readonly maxNewTokens?: number;
  readonly json: boolean;
}

export function parseAskArgs(argv: readonly string[]): AskArgs {
  const { values, positionals } = parse(
    argv,
    {
      question: { type: 'string' },
      model: { type: 'string' },
      beams: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      'pixel-values': { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      ...runtimeOptions,
    },
    ASK_USAGE,
  );
  const schema = z.object({
    question: z.string({ error: `--question is required` }).refine((q) => q.trim() !== '', 'the question is empty'),
    model: z.string().min(1, '--model is empty').optional(),
    beams: positiveInt('--beams').optional(),
    'max-new-tokens': positiveInt('--max-new-tokens').optional(),
    json: z.boolean(),
    ...runtimeSchema,
  });
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new TaskArgsError(firstIssue(parsed.error));
  const { question, model, beams, 'max-new-tokens': maxNewTokens, json } = parsed.data;
  return {
    images: imageSources(positionals, values['pixel-values']),
    question,
    model: model ?? runtimeEnv('BLIPLINE_VQA_MODEL') ?? DEFAULT_VQA_MODEL,
    ...(beams !== undefined ? { beams } : {}),
    ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
    json,
    ...runtimeArgs(parsed.data),
  };
}

export interface ScoreArgs extends RuntimeArgs {
  readonly image: ImageSource;
  readonly texts: string[];
  readonly model: string;
  readonly json: boolean;
}

export function parseScoreArgs(argv: readonly string[]): ScoreArgs {
  const { values, positionals } = parse(
    argv,
    {
      text: { type: 'string', multiple: true },
      model: { type: 'string' },
      'pixel-values': { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      ...runtimeOptions,
    },
    SCORE_USAGE,
  );
  const schema = z.object({
    text: z.array(z.string(), { error: `--text is required` }).min(1, `--text is required`),
    model: z.string().min(1, '--model is empty').default(DEFAULT_RETRIEVAL_MODEL),
    json: z.boolean(),
    ...runtimeSchema,
  });
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new TaskArgsError(firstIssue(parsed.error));
  const images = imageSources(positionals, values['pixel-values']);
  if (images.length !== 1) throw new TaskArgsError(`score takes exactly one image, got ${images.length}`);
  const { text: texts, model, json } = parsed.data;
  return { image: images[0] as ImageSource, texts, model, json, ...runtimeArgs(parsed.data) };
}
