import { z } from 'zod';
import type { BlipTextConfig } from '../config.js';
import { BlipUsageError } from '../errors.js';
import { HF_DEFAULT_MAX_LENGTH, MAX_CAPTION_BEAMS } from '../generation/caption-options.js';

/** Validation of the options of `ask` (and the re-ranking options of `caption`), with zod. */

/** Hugging Face `generate` default `max_length` 20 counts the `[DEC]` start token: 19 new tokens. */
export const DEFAULT_ANSWER_MAX_NEW_TOKENS = HF_DEFAULT_MAX_LENGTH - 1;

export const askOptionsSchema = z
  .object({
    beams: z.number().int().min(1).max(MAX_CAPTION_BEAMS).default(1),
    maxNewTokens: z.number().int().min(1).default(DEFAULT_ANSWER_MAX_NEW_TOKENS),
  })
  .strict();

export type AskOptionsInput = z.input<typeof askOptionsSchema>;
export type ValidatedAskOptions = z.output<typeof askOptionsSchema>;

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid options';
  const where = issue.path.join('.');
  return where ? `${where}: ${issue.message}` : issue.message;
}

/** Parses `options` with `schema`; a failure is a BlipUsageError `invalid_option` naming the field. */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    throw new BlipUsageError('invalid_option', `${what} options: ${describeIssue(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** Validates `ask` options; the answer must fit the decoder's position table after `[DEC]`. */
export function parseAskOptions(options: unknown, text: BlipTextConfig): ValidatedAskOptions {
  const parsed = parseOptions(askOptionsSchema, options, 'ask');
  const limit = text.max_position_embeddings - 1;
  if (parsed.maxNewTokens > limit) {
    throw new BlipUsageError('invalid_option', `ask options: maxNewTokens must be at most ${limit} for this model, got ${parsed.maxNewTokens}`);
  }
  return parsed;
}
