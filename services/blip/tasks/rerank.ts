import { BlipUsageError } from '../errors.js';

/**
 * Caption re-ranking: the captioner's beam candidates (`num_return_sequences`), ordered by how well
 * a BlipForImageTextRetrieval checkpoint says each matches the image (ITM match probability).
 * Beam search ranks by the decoder's own likelihood, which favours short, generic captions; the
 * matching head was trained to tell a caption of this image from captions of similar images, so it
 * prefers the candidates that name what is actually there.
 */

/** One beam candidate of the captioner (text, ids from `[DEC]`, Hugging Face `sequences_scores`). */
export interface CaptionCandidate {
  readonly text: string;
  readonly tokenIds: readonly number[];
  /** Length-normalised log-probability under the captioner (beam search's own ranking). */
  readonly beamScore: number;
}

export interface RankedCandidate extends CaptionCandidate {
  /** Position in the beam search's order (0 = the captioner's choice). */
  readonly beamRank: number;
  readonly itmLogits: [number, number];
  /** ITM match probability: the re-ranking key. */
  readonly itmProbability: number;
  readonly itcCosine: number;
}

/** What re-ranking needs of the matching model: `BlipModel.score` of a retrieval checkpoint. */
export interface Matcher<Image> {
  readonly kind: string;
  score(image: Image, texts: string[]): Promise<readonly { itmLogits: [number, number]; itmProbability: number; itcCosine: number }[]>;
}

/**
 * Scores the candidates against the image and orders them by ITM match probability, highest first;
 * equal probabilities keep the beam order.
 */
export async function rerankCandidates<Image>(
  matcher: Matcher<Image>,
  image: Image,
  candidates: readonly CaptionCandidate[],
): Promise<RankedCandidate[]> {
  if (matcher.kind !== 'retrieval') {
    throw new BlipUsageError('wrong_model_kind', `re-ranking needs a retrieval checkpoint (BlipForImageTextRetrieval); got a ${matcher.kind} checkpoint`);
  }
  if (candidates.length === 0) return [];
  const scores = await matcher.score(
    image,
    candidates.map((candidate) => candidate.text),
  );
  const ranked = candidates.map((candidate, beamRank): RankedCandidate => {
    const score = scores[beamRank];
    if (!score) throw new Error(`no score for candidate ${beamRank}`);
    return { ...candidate, beamRank, itmLogits: score.itmLogits, itmProbability: score.itmProbability, itcCosine: score.itcCosine };
  });
  return ranked.sort((a, b) => b.itmProbability - a.itmProbability || a.beamRank - b.beamRank);
}
