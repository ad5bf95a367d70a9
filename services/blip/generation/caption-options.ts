import { z } from 'zod';
import type { BlipTextConfig } from '../config.js';
import { BlipUsageError } from '../errors.js';

/**
 * Caption options, validated. Defaults are Hugging Face `generate`'s: greedy, no repetition penalty,
 * and `max_length` 20 counting the decoder prompt when `maxNewTokens` is not given.
 */
export const HF_DEFAULT_MAX_LENGTH = 20;
export const MAX_CAPTION_BEAMS = 16;

export const captionOptionsSchema = z.strictObject({
  prompt: z.string().max(2000).optional(),
  beams: z.number().int().min(1).max(MAX_CAPTION_BEAMS).default(1),
  maxNewTokens: z.number().int().min(1).optional(),
  minNewTokens: z.number().int().min(0).default(0),
  repetitionPenalty: z.number().positive().finite().default(1),
  /** Return this many beam candidates per image (`num_return_sequences`); beams default to it. */
  candidates: z.number().int().min(2).max(MAX_CAPTION_BEAMS).optional(),
});

export type ValidatedCaptionOptions = z.output<typeof captionOptionsSchema>;

export function parseCaptionOptions(options: unknown): ValidatedCaptionOptions {
  const parsed = captionOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BlipUsageError('invalid_option', `caption option ${issue?.path.join('.') || ''}: ${issue?.message ?? 'invalid'}`.trim(), {
      cause: parsed.error,
    });
  }
  const { candidates } = parsed.data;
  if (candidates !== undefined) {
    // Hugging Face requires num_return_sequences <= num_beams.
    if (options !== null && typeof options === 'object' && 'beams' in options && parsed.data.beams < candidates) {
      throw new BlipUsageError('invalid_option', `caption option candidates (${candidates}) exceeds beams (${parsed.data.beams})`);
    }
    return { ...parsed.data, beams: Math.max(parsed.data.beams, candidates) };
  }
  return parsed.data;
}

/** Resolves the new-token budget for a decoder prompt of `promptLength` ids, within the position table. */
export function newTokenBudget(options: ValidatedCaptionOptions, promptLength: number, text: BlipTextConfig): number {
  const maxNewTokens = options.maxNewTokens ?? Math.max(1, HF_DEFAULT_MAX_LENGTH - promptLength);
  if (promptLength + maxNewTokens > text.max_position_embeddings) {
    throw new BlipUsageError(
      'invalid_option',
      `prompt (${promptLength} tokens) plus maxNewTokens (${maxNewTokens}) exceeds the model's ${text.max_position_embeddings} positions`,
    );
  }
  if (options.minNewTokens > maxNewTokens) {
    throw new BlipUsageError('invalid_option', `minNewTokens (${options.minNewTokens}) exceeds maxNewTokens (${maxNewTokens})`);
  }
  return maxNewTokens;
}
