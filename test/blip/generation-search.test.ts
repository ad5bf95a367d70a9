import { describe, expect, it } from 'vitest';
import { beamSearch, beamSearchHypotheses } from '../../services/blip/generation/beam-search.js';
import { greedySearch } from '../../services/blip/generation/greedy.js';
import { applyRepetitionPenalty, argmax, logSoftmaxInPlace } from '../../services/blip/generation/logits-processors.js';
import type { GenerationSettings, StepModel } from '../../services/blip/generation/types.js';

const EOS = 2;
const PAD = 0;
const VOCAB = 6;

/** A fake decoder whose next-token logits depend on each row's history (and the row it started as). */
class TableModel implements StepModel {
  readonly vocabSize = VOCAB;
  readonly fed: number[][][] = [];
  private histories: number[][] = [];
  private origins: number[] = [];
  constructor(private readonly next: (history: readonly number[], row: number) => number[]) {}

  async step(tokens: readonly (readonly number[])[]): Promise<Float32Array> {
    this.fed.push(tokens.map((row) => [...row]));
    if (this.origins.length === 0) this.origins = tokens.map((_, row) => row);
    this.histories = tokens.map((row, i) => [...(this.histories[i] ?? []), ...row]);
    return Float32Array.from(this.histories.flatMap((history, row) => this.next(history, this.origins[row] as number)));
  }

  reorder(sources: readonly number[]): void {
    this.histories = sources.map((source) => [...(this.histories[source] as number[])]);
    this.origins = sources.map((source) => this.origins[source] as number);
  }
}

const settings = (overrides: Partial<GenerationSettings> = {}): GenerationSettings => ({
  prompt: [5],
  maxNewTokens: 5,
  minNewTokens: 0,
  repetitionPenalty: 1,
  eosTokenId: EOS,
  padTokenId: PAD,
  ...overrides,
});

describe('logits processors', () => {
  it('penalises repeated tokens as Hugging Face does: divide positive, multiply negative scores', () => {
    const scores = Float32Array.of(2, -2, 3, 0);
    applyRepetitionPenalty(scores, [0, 1, 1], 2);
    expect(Array.from(scores)).toEqual([1, -4, 3, 0]);
  });

  it('log-softmax normalises and argmax takes the first of equal maxima', () => {
    const scores = Float32Array.of(1, 3, 3, 0);
    expect(argmax(scores)).toBe(1);
    logSoftmaxInPlace(scores);
    expect(Array.from(scores).reduce((sum, x) => sum + Math.exp(x), 0)).toBeCloseTo(1, 6);
  });
});

describe('greedy search', () => {
  // Every row first produces 1; then row 0 produces the end token and the others keep producing 3.
  const model = () =>
    new TableModel((history, row) => {
      const logits = new Array<number>(VOCAB).fill(0);
      logits[history.length === 1 ? 1 : row === 0 ? EOS : 3] = 5;
      logits[3] = Math.max(logits[3] as number, 1);
      return logits;
    });

  it('stops each row at its end token and feeds padding after it, until every row ends or the limit', async () => {
    const search = model();
    const rows = await greedySearch(search, 5, settings({ maxNewTokens: 4 }));
    expect(rows).toEqual([[5, 1, EOS], ...new Array(4).fill([5, 1, 3, 3, 3])]);
    // One finished row of five is padded (fewer than a quarter of the rows).
    expect(search.fed.map((step) => step[0])).toEqual([[5], [1], [EOS], [PAD]]);
  });

  it('drops finished rows from the batch once they are a quarter of it, with the same tokens', async () => {
    const search = model();
    const rows = await greedySearch(search, 2, settings({ maxNewTokens: 4 }));
    expect(rows).toEqual([
      [5, 1, EOS],
      [5, 1, 3, 3, 3],
    ]);
    expect(search.fed).toEqual([[[5], [5]], [[1], [1]], [[3]], [[3]]]);
  });

  it('refuses the end token before minNewTokens', async () => {
    const [row] = await greedySearch(model(), 1, settings({ maxNewTokens: 4, minNewTokens: 3 }));
    expect(row).toEqual([5, 1, 3, 3, EOS]);
  });
});

describe('beam search', () => {
  // From 5: token 1 (p high) or 4; after 1 the end token is likely; after 4, token 3 is very likely.
  const logitsAfter = (last: number): number[] => {
    const table: Record<number, number[]> = {
      5: [-9, 2, -9, -9, 1.5, -9],
      1: [-9, -9, 1, 0.9, -9, -9],
      4: [-9, -9, -9, 6, -9, -9],
      3: [-9, -9, 4, 1, -9, -9],
    };
    return table[last] ?? new Array<number>(VOCAB).fill(0);
  };
  const model = () => new TableModel((history) => logitsAfter(history[history.length - 1] as number));

  it('keeps finished hypotheses scored by sum of log-probabilities over new tokens, best first', async () => {
    const hypotheses = await beamSearchHypotheses(model(), 1, { ...settings({ maxNewTokens: 4 }), beams: 2 });
    const [best, second] = hypotheses[0] ?? [];
    expect(best?.tokens).toEqual([5, 4, 3, EOS]);
    // [5,1,EOS] scores (-0.474 - 0.644) / 2 = -0.559: the longer [5,1,3,EOS] beats it per token.
    expect(second?.tokens).toEqual([5, 1, 3, EOS]);
    const logProb = (logits: number[], token: number) => (logits[token] as number) - Math.log(logits.reduce((sum, x) => sum + Math.exp(x), 0));
    const expectedBest = (logProb(logitsAfter(5), 4) + logProb(logitsAfter(4), 3) + logProb(logitsAfter(3), EOS)) / 3;
    expect(best?.score).toBeCloseTo(expectedBest, 5);
    expect(await beamSearch(model(), 1, { ...settings({ maxNewTokens: 4 }), beams: 2 })).toEqual([[5, 4, 3, EOS]]);
  });

  it('gives each batch item its own result, equal to searching it alone', async () => {
    const alone = await beamSearch(model(), 1, { ...settings({ maxNewTokens: 3 }), beams: 2 });
    const batch = await beamSearch(model(), 2, { ...settings({ maxNewTokens: 3 }), beams: 2 });
    expect(batch).toEqual([alone[0], alone[0]]);
  });
});
