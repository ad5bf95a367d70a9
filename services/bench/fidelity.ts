// Fidelity of quantised graphs against float32: cosine similarity of the image states, and along
// teacher-forced token paths the KL divergence and top-1 agreement of the next-token
// distributions. Real BLIP weights cannot be evaluated here; this measures what quantisation does
// to the computation on the fixture checkpoints and on random weights at the real sizes.
import ort from 'onnxruntime-node';
import { argmaxRows, CaptioningGraphs, type PrecisionPlan, uniformPlan } from './captioning-graphs.js';

export interface FidelityCase {
  name: string;
  /** preprocessed `[1, 3, H, W]` pixel values */
  pixels: Float32Array;
  /** teacher-forced path starting with [DEC]; when absent, float32's own greedy path of `greedyTokens` */
  tokenIds?: readonly number[];
}

export interface CaseFidelity {
  name: string;
  /** cosine of the flattened image states */
  imageStatesCosine: number;
  /** smallest per-token cosine of the image states */
  imageStatesMinTokenCosine: number;
  /** mean and max over positions of KL(p_fp32 || p_quantised), nats */
  klMean: number;
  klMax: number;
  /** fraction of positions whose argmax agrees */
  top1Agreement: number;
  positions: number;
  /** smallest float32 top-1 minus top-2 logit margin on the path (small margins flip easily) */
  minFp32Margin: number;
  /** largest absolute logit difference */
  maxLogitDiff: number;
  /** positions where float32's top-1 leads by more than DECISIVE_MARGIN, and the agreement there */
  decisivePositions: number;
  decisiveAgreement: number;
}

/** A float32 top-1 lead (logits) above which a quantised graph is expected to agree. */
export const DECISIVE_MARGIN = 0.1;

export interface FidelitySummary {
  plan: PrecisionPlan;
  cases: CaseFidelity[];
  imageStatesCosineMin: number;
  klMean: number;
  klMax: number;
  top1Agreement: number;
}

/** Cosine similarity of `a` and `b` over `[start, end)`. */
export function cosine(a: Float32Array, b: Float32Array, start = 0, end = a.length): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = start; i < end; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function logSoftmax(logits: Float32Array, start: number, vocab: number): Float64Array {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[start + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[start + v]! - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(vocab);
  for (let v = 0; v < vocab; v++) out[v] = logits[start + v]! - logZ;
  return out;
}

/** Compares per-position distributions of `[T, vocab]` logits. */
export function compareLogits(reference: Float32Array, other: Float32Array, vocab: number) {
  const positions = reference.length / vocab;
  let klSum = 0;
  let klMax = 0;
  let agree = 0;
  let minMargin = Infinity;
  let maxDiff = 0;
  let decisive = 0;
  let decisiveAgree = 0;
  for (let t = 0; t < positions; t++) {
    const start = t * vocab;
    const p = logSoftmax(reference, start, vocab);
    const q = logSoftmax(other, start, vocab);
    let kl = 0;
    for (let v = 0; v < vocab; v++) kl += Math.exp(p[v]!) * (p[v]! - q[v]!);
    klSum += kl;
    klMax = Math.max(klMax, kl);
    let best = 0;
    let second = -1;
    let bestOther = 0;
    for (let v = 1; v < vocab; v++) {
      if (reference[start + v]! > reference[start + best]!) {
        second = best;
        best = v;
      } else if (second < 0 || reference[start + v]! > reference[start + second]!) second = v;
      if (other[start + v]! > other[start + bestOther]!) bestOther = v;
    }
    if (best === bestOther) agree++;
    const margin = reference[start + best]! - reference[start + second]!;
    minMargin = Math.min(minMargin, margin);
    if (margin > DECISIVE_MARGIN) {
      decisive++;
      if (best === bestOther) decisiveAgree++;
    }
    for (let v = 0; v < vocab; v++) maxDiff = Math.max(maxDiff, Math.abs(reference[start + v]! - other[start + v]!));
  }
  return {
    klMean: klSum / positions, klMax, top1Agreement: agree / positions, positions, minFp32Margin: minMargin, maxLogitDiff: maxDiff,
    decisivePositions: decisive, decisiveAgreement: decisive > 0 ? decisiveAgree / decisive : 1,
  };
}

async function greedyPath(graphs: CaptioningGraphs, cross: Record<string, ort.Tensor>, tokens: number): Promise<number[]> {
  const ids = [30522];
  for (let i = 0; i < tokens; i++) {
    const logits = await graphs.teacherForced(cross, ids);
    const vocab = graphs.text.vocab_size;
    ids.push(Number(argmaxRows(logits.subarray(logits.length - vocab), 1, vocab)[0]));
  }
  return ids;
}

export async function measureFidelity(options: {
  checkpointDir: string;
  plans: PrecisionPlan[];
  cases: FidelityCase[];
  threads: number;
  cacheDir: string;
  greedyTokens?: number;
  log?: (line: string) => void;
}): Promise<FidelitySummary[]> {
  const open = (plan: PrecisionPlan) => CaptioningGraphs.open({ checkpointDir: options.checkpointDir, plan, threads: options.threads, cacheDir: options.cacheDir, ...(options.log ? { log: options.log } : {}) });
  const reference = await open(uniformPlan('fp32'));
  const size = reference.checkpoint.config.vision_config.image_size;
  const vocab = reference.text.vocab_size;
  const hidden = reference.checkpoint.config.vision_config.hidden_size;
  const referenceRuns: { states: Float32Array; logits: Float32Array; ids: readonly number[] }[] = [];
  try {
    for (const c of options.cases) {
      const pixels = new ort.Tensor('float32', c.pixels, [1, 3, size, size]);
      const states = await reference.imageStates(pixels);
      const cross = reference.crossInputs(states);
      const ids = c.tokenIds ?? (await greedyPath(reference, cross, options.greedyTokens ?? 20));
      const logits = await reference.teacherForced(cross, ids);
      referenceRuns.push({ states: states.data as Float32Array, logits, ids });
    }
  } finally {
    await reference.release();
  }
  const summaries: FidelitySummary[] = [];
  for (const plan of options.plans) {
    const graphs = await open(plan);
    try {
      const cases: CaseFidelity[] = [];
      for (const [i, c] of options.cases.entries()) {
        const ref = referenceRuns[i]!;
        const pixels = new ort.Tensor('float32', c.pixels, [1, 3, size, size]);
        const statesTensor = await graphs.imageStates(pixels);
        const states = statesTensor.data as Float32Array;
        let minToken = 1;
        for (let t = 0; t < states.length / hidden; t++) minToken = Math.min(minToken, cosine(ref.states, states, t * hidden, (t + 1) * hidden));
        const logits = await graphs.teacherForced(graphs.crossInputs(statesTensor), ref.ids);
        cases.push({ name: c.name, imageStatesCosine: cosine(ref.states, states), imageStatesMinTokenCosine: minToken, ...compareLogits(ref.logits, logits, vocab) });
      }
      const positions = cases.reduce((s, c) => s + c.positions, 0);
      summaries.push({
        plan,
        cases,
        imageStatesCosineMin: Math.min(...cases.map((c) => c.imageStatesCosine)),
        klMean: cases.reduce((s, c) => s + c.klMean * c.positions, 0) / positions,
        klMax: Math.max(...cases.map((c) => c.klMax)),
        top1Agreement: cases.reduce((s, c) => s + c.top1Agreement * c.positions, 0) / positions,
      });
    } finally {
      await graphs.release();
    }
  }
  return summaries;
}
