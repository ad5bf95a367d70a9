// Per-graph timings of the captioning graphs (vision encoder, decoder step, and the per-image
// preparation of what the step cross-attends to) at one precision, and of a naive decoder that keeps
// no cache: every step re-runs the whole prefix and re-projects the image states into cross-attention
// keys/values, as Hugging Face BLIP does without `past_key_values`.
import ort from 'onnxruntime-node';
import { visionSequenceLength } from '../blip/config.js';
import { fillGaussian } from '../blip/tools/random-checkpoint.js';
import { argmaxRows, CaptioningGraphs, type PrecisionPlan } from './captioning-graphs.js';
import { graphWeightBytes } from './model-costs.js';
import { median } from './stats.js';

export interface GraphBenchOptions {
  checkpointDir: string;
  plan: PrecisionPlan;
  threads: number;
  cacheDir: string;
  runs: number;
  /** generated tokens per caption */
  tokens: number;
  log: (line: string) => void;
}

export interface GraphTimings {
  visionMs: number;
  /** preparing one image's cross-attention inputs for the decoder step (its states, transposed) */
  crossKvMs: number;
  /** mean step time over a `tokens`-long greedy generation, median over runs, by batch size */
  decodeMsPerToken: Record<'1' | '8', number>;
  /** vision + `tokens` naive steps (no cache, cross K/V recomputed every step) at batch 1 */
  naiveCaptionMs: number;
  /** vision + cross-attention inputs + `tokens` cached steps at batch 1, from the same sessions */
  cachedCaptionMs: number;
  /** bytes every decoder step reads whole, from the step graph (graphWeightBytes) */
  decoderStepWeightBytes: number;
}

export async function benchGraphs(options: GraphBenchOptions): Promise<GraphTimings> {
  const graphs = await CaptioningGraphs.open({ ...options, naive: true });
  try {
    const text = graphs.text;
    const vision = graphs.checkpoint.config.vision_config;
    const size = vision.image_size;
    const vocab = text.vocab_size;
    const bos = BigInt(text.bos_token_id);
    const pixels = (() => {
      const data = new Float32Array(3 * size * size);
      fillGaussian(data, 42, 0, 1);
      return new ort.Tensor('float32', data, [1, 3, size, size]);
    })();

    /** Mean ms per step of a greedy decoding through the runtime's cached decoder state. */
    const decode = async (cross: Record<string, ort.Tensor>, batch: number): Promise<number> =>
      (await graphs.greedySteps(cross, batch, options.tokens)) / options.tokens;

    const naiveCaption = async (): Promise<number> => {
      const t0 = performance.now();
      const states = await graphs.imageStates(pixels);
      const ids: bigint[] = [bos];
      for (let step = 0; step < options.tokens; step++) {
        const out = await graphs.naive!.run({
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids), [1, ids.length]),
          encoder_hidden_states: states,
        });
        ids.push(argmaxRows(out.logits!.data as Float32Array, 1, vocab)[0]!);
      }
      return performance.now() - t0;
    };

    const cachedCaption = async (): Promise<number> => {
      const t0 = performance.now();
      const cross = graphs.crossInputs(await graphs.imageStates(pixels));
      await decode(cross, 1);
      return performance.now() - t0;
    };

    // warm-up of every session and shape
    const states1 = await graphs.imageStates(pixels);
    if (states1.dims[1] !== visionSequenceLength(vision)) throw new Error(`vision graph gave ${states1.dims[1]} tokens`);
    const cross1 = graphs.crossInputs(states1);
    const cross8 = graphs.crossInputs(states1, 8);
    await decode(cross1, 1);
    await decode(cross8, 8);
    await naiveCaption();

    const samples = { vision: [] as number[], cross: [] as number[], d1: [] as number[], d8: [] as number[], naive: [] as number[], cached: [] as number[] };
    for (let run = 0; run < options.runs; run++) {
      let t0 = performance.now();
      const states = await graphs.imageStates(pixels);
      samples.vision.push(performance.now() - t0);
      t0 = performance.now();
      const cross = graphs.crossInputs(states);
      samples.cross.push(performance.now() - t0);
      samples.d1.push(await decode(cross, 1));
      samples.d8.push(await decode(cross8, 8));
      samples.naive.push(await naiveCaption());
      samples.cached.push(await cachedCaption());
    }
    return {
      visionMs: median(samples.vision),
      crossKvMs: median(samples.cross),
      decodeMsPerToken: { '1': median(samples.d1), '8': median(samples.d8) },
      naiveCaptionMs: median(samples.naive),
      cachedCaptionMs: median(samples.cached),
      decoderStepWeightBytes: graphWeightBytes(graphs.decoderStepFile),
    };
  } finally {
    await graphs.release();
  }
}
