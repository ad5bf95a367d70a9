import { argmax, processScores } from './logits-processors.js';
import type { GenerationSettings, StepModel } from './types.js';

/**
 * Greedy decoding as Hugging Face `_sample` without sampling: every row extends by its best token;
 * a row that produced the end token is padded from then on and stops counting; decoding ends when
 * every row has finished or `maxNewTokens` are generated. Returns each row up to its end token.
 */
export async function greedySearch(model: StepModel, rows: number, settings: GenerationSettings): Promise<number[][]> {
  const sequences = Array.from({ length: rows }, () => [...settings.prompt]);
  const finished = new Array<boolean>(rows).fill(false);
  const maxLength = settings.prompt.length + settings.maxNewTokens;
  let feed: (readonly number[])[] = sequences.map((sequence) => [...sequence]);
  for (let length = settings.prompt.length; length < maxLength; length += 1) {
    const logits = await model.step(feed);
    feed = [];
    for (let row = 0; row < rows; row += 1) {
      const sequence = sequences[row] as number[];
      let token = settings.padTokenId;
      if (!finished[row]) {
        const scores = logits.slice(row * model.vocabSize, (row + 1) * model.vocabSize);
        processScores(scores, sequence, settings);
        token = argmax(scores);
        finished[row] = token === settings.eosTokenId;
      }
      sequence.push(token);
      feed.push([token]);
    }
    if (finished.every(Boolean)) break;
  }
  return sequences.map((sequence) => trimAfterEnd(sequence, settings));
}

/** Drops the padding that follows a row's end token. */
export function trimAfterEnd(sequence: readonly number[], settings: GenerationSettings): number[] {
  const end = sequence.indexOf(settings.eosTokenId, settings.prompt.length);
  return end === -1 ? [...sequence] : sequence.slice(0, end + 1);
}
