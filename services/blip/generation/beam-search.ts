import { logSoftmaxInPlace, processScores } from './logits-processors.js';
import type { GenerationSettings, StepModel } from './types.js';

/**
 * Beam search as Hugging Face `GenerationMixin._beam_search` (transformers 5.x) with
 * `early_stopping=False`: per step the top `2 * beams` continuations of all running beams are taken;
 * the best `beams` of those that did not just end keep running; those among the first `beams` that did
 * end (end token, or the length limit) compete for the finished list with score
 * `sum_logprobs / new_tokens ** lengthPenalty`. A batch item stops collecting once its best running
 * beam can no longer beat its worst finished one. Scores are float32, as in PyTorch.
 *
 * The model has `batch * beams` rows, beam `k` of item `b` at row `b * beams + k`.
 */

const f32 = Math.fround;
/** Hugging Face's "impossible" score offset. */
const EXCLUDED = -1.0e9;

export interface BeamSearchSettings extends GenerationSettings {
  readonly beams: number;
  /** Hugging Face default 1.0. */
  readonly lengthPenalty?: number;
}

export interface Hypothesis {
  readonly tokens: number[];
  /** Length-normalised sum of log-probabilities (finished hypotheses). */
  readonly score: number;
}

interface Candidate {
  readonly beam: number;
  readonly tokens: number[];
  readonly score: number;
  readonly ended: boolean;
}

/** Indices of the `k` largest values, largest first (lower index first on ties). */
function topK(values: ArrayLike<number>, k: number): number[] {
  const chosen: number[] = [];
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i] as number;
    if (chosen.length === k && value <= (values[chosen[k - 1] as number] as number)) continue;
    let at = chosen.length;
    while (at > 0 && (values[chosen[at - 1] as number] as number) < value) at -= 1;
    chosen.splice(at, 0, i);
    if (chosen.length > k) chosen.pop();
  }
  return chosen;
}

class BatchItemSearch {
  running: Hypothesis[];
  finished: (Hypothesis & { done: boolean })[];
  improvable = true;

  constructor(
    prompt: readonly number[],
    private readonly beams: number,
  ) {
    this.running = Array.from({ length: beams }, (_, k) => ({ tokens: [...prompt], score: k === 0 ? 0 : EXCLUDED }));
    this.finished = Array.from({ length: beams }, () => ({ tokens: [...prompt], score: EXCLUDED, done: false }));
  }

  /** Top `2 * beams` continuations over all running beams of this item. */
  candidates(logProbs: Float32Array, firstRow: number, vocabSize: number, maxLength: number, eosTokenId: number): Candidate[] {
    const accumulated = new Float32Array(this.beams * vocabSize);
    for (let k = 0; k < this.beams; k += 1) {
      const runningScore = (this.running[k] as Hypothesis).score;
      const row = (firstRow + k) * vocabSize;
      for (let token = 0; token < vocabSize; token += 1) {
        accumulated[k * vocabSize + token] = (logProbs[row + token] as number) + runningScore;
      }
    }
    return topK(accumulated, 2 * this.beams).map((index) => {
      const beam = Math.floor(index / vocabSize);
      const token = index % vocabSize;
      const tokens = [...(this.running[beam] as Hypothesis).tokens, token];
      return { beam, tokens, score: accumulated[index] as number, ended: token === eosTokenId || tokens.length >= maxLength };
    });
  }

  /** Keeps the best `beams` continuations that did not end; returns the rows they continue from. */
  advance(candidates: readonly Candidate[]): number[] {
    const scores = candidates.map((candidate) => (candidate.ended ? f32(candidate.score + EXCLUDED) : candidate.score));
    const kept = topK(scores, this.beams);
    this.running = kept.map((index) => ({ tokens: (candidates[index] as Candidate).tokens, score: scores[index] as number }));
    return kept.map((index) => (candidates[index] as Candidate).beam);
  }

  /** Merges the candidates that just ended (among the first `beams`) into the finished list. */
  collectFinished(candidates: readonly Candidate[], newTokens: number, lengthPenalty: number): void {
    const merged = [
      ...this.finished,
      ...candidates.map((candidate, index) => {
        const done = candidate.ended && index < this.beams;
        let score = f32(candidate.score / f32(newTokens ** lengthPenalty));
        if (!this.improvable) score = f32(score + EXCLUDED);
        if (!done) score = f32(score + EXCLUDED);
        return { tokens: candidate.tokens, score, done };
      }),
    ];
    this.finished = topK(
      merged.map((hypothesis) => hypothesis.score),
      this.beams,
    ).map((index) => merged[index] as Hypothesis & { done: boolean });
  }

  /** Hugging Face's early-stop heuristic for `early_stopping=False`. */
  updateImprovable(generatedLength: number, lengthPenalty: number): void {
    const best = f32((this.running[0] as Hypothesis).score / f32(generatedLength ** lengthPenalty));
    const worstFinished = Math.min(...this.finished.map((hypothesis) => hypothesis.score));
    this.improvable &&= this.finished.some((hypothesis) => best > (hypothesis.done ? worstFinished : EXCLUDED));
  }
}

/** The best finished sequence of each batch item (`generate` with `num_return_sequences=1`). */
export async function beamSearch(model: StepModel, batch: number, settings: BeamSearchSettings): Promise<number[][]> {
  const hypotheses = await beamSearchHypotheses(model, batch, settings);
  return hypotheses.map((finished) => [...(finished[0] as Hypothesis).tokens]);
}

/** The `beams` finished hypotheses of each batch item, best first, with their scores. */
export async function beamSearchHypotheses(model: StepModel, batch: number, settings: BeamSearchSettings): Promise<Hypothesis[][]> {
  const { beams, eosTokenId } = settings;
  const lengthPenalty = settings.lengthPenalty ?? 1;
  const promptLength = settings.prompt.length;
  const maxLength = promptLength + settings.maxNewTokens;
  const items = Array.from({ length: batch }, () => new BatchItemSearch(settings.prompt, beams));
  const { vocabSize } = model;

  let feed: (readonly number[])[] = Array.from({ length: batch * beams }, () => settings.prompt);
  for (let length = promptLength; length < maxLength; length += 1) {
    const logProbs = await model.step(feed);
    items.forEach((item, b) => {
      item.running.forEach((hypothesis, k) => {
        const row = logProbs.subarray((b * beams + k) * vocabSize, (b * beams + k + 1) * vocabSize);
        logSoftmaxInPlace(row);
        processScores(row, hypothesis.tokens, settings);
      });
    });

    const sources: number[] = [];
    let allEnded = true;
    items.forEach((item, b) => {
      const candidates = item.candidates(logProbs, b * beams, vocabSize, maxLength, eosTokenId);
      allEnded &&= candidates.every((candidate) => candidate.ended);
      for (const beam of item.advance(candidates)) sources.push(b * beams + beam);
      item.collectFinished(candidates, length + 1 - promptLength, lengthPenalty);
      item.updateImprovable(length + 1 - promptLength, lengthPenalty);
    });
    if (allEnded || !items.some((item) => item.improvable)) break;
    model.reorder(sources);
    feed = items.flatMap((item) => item.running.map((hypothesis) => [hypothesis.tokens[hypothesis.tokens.length - 1] as number]));
  }
  return items.map((item) => item.finished.map(({ tokens, score }) => ({ tokens: [...tokens], score })));
}
