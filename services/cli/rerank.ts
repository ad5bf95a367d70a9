import { z } from 'zod';
import type { Logger } from 'pino';
import { type GenerationResult, type ImageInput, type LoadedBlipModel, loadBlip, type Precision, rerankCandidates } from '../blip/index.js';
import { DEFAULT_RETRIEVAL_MODEL } from './defaults.js';
import { CliUsageError } from './errors.js';

/**
 * `blipline caption --candidates N [--rerank [--rerank-model DIR|HUB_ID]]`: N beam candidates per
 * image (num_return_sequences), optionally re-ordered by a retrieval checkpoint's ITM match
 * probability. The caption printed is then the best re-ranked candidate.
 */

/** A usage error of the candidate flags (exit 2). */
export class CandidateArgsError extends CliUsageError {}

/** parseArgs options to merge into the caption command's. */
export const candidateArgOptions = {
  candidates: { type: 'string' },
  rerank: { type: 'boolean', default: false },
  'rerank-model': { type: 'string' },
} as const;

export interface CandidateArgs {
  readonly candidates?: number;
  readonly rerank: boolean;
  readonly rerankModel: string;
}

const schema = z.object({
  candidates: z
    .string()
    .regex(/^\d+$/, '--candidates must be a whole number')
    .transform(Number)
    .refine((n) => n >= 2 && n <= 16, '--candidates must be between 2 and 16')
    .optional(),
  rerank: z.boolean().default(false),
  'rerank-model': z.string().min(1, '--rerank-model is empty').optional(),
});

export function parseCandidateArgs(values: Record<string, unknown>): CandidateArgs {
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new CandidateArgsError(parsed.error.issues[0]?.message ?? 'invalid arguments');
  const { candidates, rerank, 'rerank-model': rerankModel } = parsed.data;
  if (rerank && candidates === undefined) throw new CandidateArgsError('--rerank needs --candidates N');
  if (rerankModel !== undefined && !rerank) throw new CandidateArgsError('--rerank-model needs --rerank');
  return { ...(candidates !== undefined ? { candidates } : {}), rerank, rerankModel: rerankModel ?? DEFAULT_RETRIEVAL_MODEL };
}

/** Loads the matching checkpoint when re-ranking (refusing any other kind before compiling). */
export async function loadMatcher(
  args: CandidateArgs,
  runtime: { precision?: Precision; threads?: number; logger?: Logger },
): Promise<LoadedBlipModel | undefined> {
  if (!args.rerank) return undefined;
  return loadBlip({ model: args.rerankModel, kind: 'retrieval', ...runtime });
}

export interface CandidateLine {
  readonly text: string;
  readonly tokenIds: readonly number[];
  readonly beamScore: number;
  readonly beamRank: number;
  readonly itmLogits?: [number, number];
  readonly itmProbability?: number;
  readonly itcCosine?: number;
}

/**
 * The caption and candidates to print for one image: beam order, or with a matcher the re-ranked
 * order, whose first candidate becomes the caption.
 */
export async function shapeCandidates(
  result: GenerationResult,
  image: ImageInput,
  matcher: LoadedBlipModel | undefined,
): Promise<{ text: string; tokenIds: readonly number[]; candidates?: CandidateLine[] }> {
  const candidates = result.candidates;
  if (!candidates) return { text: result.text, tokenIds: result.tokenIds };
  if (!matcher) {
    return { text: result.text, tokenIds: result.tokenIds, candidates: candidates.map((c, beamRank) => ({ ...c, beamRank })) };
  }
  const ranked = await rerankCandidates(matcher, image, candidates);
  const best = ranked[0];
  return { text: best?.text ?? result.text, tokenIds: best?.tokenIds ?? result.tokenIds, candidates: ranked };
}

/** Plain-text lines under an image's caption: the ranking score (ITM probability, else beam score) and text. */
export function candidateTextLines(candidates: readonly CandidateLine[]): string {
  return candidates.map((c) => `  ${(c.itmProbability ?? c.beamScore).toFixed(4)}  ${c.text}\n`).join('');
}
