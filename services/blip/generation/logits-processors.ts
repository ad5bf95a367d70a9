import type { GenerationSettings } from './types.js';

/**
 * Hugging Face logits processors used by BLIP generation, applied in place to one row of scores
 * in the order `generate` builds them: repetition penalty, then minimum new tokens.
 */

/** `RepetitionPenaltyLogitsProcessor`: each token already in the sequence is divided (>0) or multiplied (<0). */
export function applyRepetitionPenalty(scores: Float32Array, sequence: readonly number[], penalty: number): void {
  if (penalty === 1) return;
  for (const token of new Set(sequence)) {
    const score = scores[token] as number;
    scores[token] = score < 0 ? score * penalty : score / penalty;
  }
}

/** `MinNewTokensLengthLogitsProcessor`: the end token is impossible until enough new tokens exist. */
export function applyMinNewTokens(scores: Float32Array, newTokens: number, minNewTokens: number, eosTokenId: number): void {
  if (newTokens < minNewTokens) scores[eosTokenId] = Number.NEGATIVE_INFINITY;
}

export function processScores(scores: Float32Array, sequence: readonly number[], settings: GenerationSettings): void {
  applyRepetitionPenalty(scores, sequence, settings.repetitionPenalty);
  applyMinNewTokens(scores, sequence.length - settings.prompt.length, settings.minNewTokens, settings.eosTokenId);
}

/** `log_softmax` of one row, in place, with float32 results like PyTorch's. */
export function logSoftmaxInPlace(scores: Float32Array): void {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of scores) if (value > max) max = value;
  let sum = 0;
  for (const value of scores) sum += Math.exp(value - max);
  const shift = max + Math.log(sum);
  for (let i = 0; i < scores.length; i += 1) scores[i] = (scores[i] as number) - shift;
}

/** Index of the largest score; the first one on ties, as `torch.argmax`. */
export function argmax(scores: Float32Array): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i += 1) {
    if ((scores[i] as number) > bestScore) {
      bestScore = scores[i] as number;
      best = i;
    }
  }
  return best;
}
