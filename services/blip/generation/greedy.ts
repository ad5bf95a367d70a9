import { argmax, processScores } from './logits-processors.js';
import type { GenerationSettings, StepModel } from './types.js';

/**
 * Greedy decoding as Hugging Face `_sample` without sampling: every row extends by its best token;
 * a row that produced the end token is padded from then on and stops counting; decoding ends when
 * every row has finished or `maxNewTokens` are generated. Returns each row up to its end token.
 *
 * Finished rows also leave the batch (the model drops them with `reorder`) once they are a quarter
 * of it, so a long caption does not keep paying for the short ones beside it; each row's tokens are
 * the same either way.
 */
export async function greedySearch(model: StepModel, rows: number, settings: GenerationSettings): Promise<number[][]> {
  const sequences = Array.from({ length: rows }, () => [...settings.prompt]);
  const finished = new Array<boolean>(rows).fill(false);
  const maxLength = settings.prompt.length + settings.maxNewTokens;
  /** The sequence each model row extends. */
  let active = sequences.map((_, row) => row);
  let feed: (readonly number[])[] = sequences.map((sequence) => [...sequence]);
  for (let length = settings.prompt.length; length < maxLength; length += 1) {
    const logits = await model.step(feed);
    feed = active.map((row, index) => {
      const sequence = sequences[row] as number[];
      let token = settings.padTokenId;
      if (!finished[row]) {
        const scores = logits.slice(index * model.vocabSize, (index + 1) * model.vocabSize);
        processScores(scores, sequence, settings);
        token = argmax(scores);
        finished[row] = token === settings.eosTokenId;
      }
      sequence.push(token);
      return [token];
    });
    if (finished.every(Boolean)) break;
    const running = active.flatMap((row, index) => (finished[row] ? [] : [index]));
    if (4 * (active.length - running.length) >= active.length && length + 1 < maxLength) {
      model.reorder(running);
      active = running.map((index) => active[index] as number);
      feed = running.map((index) => feed[index] as number[]);
    }
  }
  return sequences.map((sequence) => trimAfterEnd(sequence, settings));
}

/** Drops the padding that follows a row's end token. */
export function trimAfterEnd(sequence: readonly number[], settings: GenerationSettings): number[] {
  const end = sequence.indexOf(settings.eosTokenId, settings.prompt.length);
  return end === -1 ? [...sequence] : sequence.slice(0, end + 1);
}
