// Per-graph timings of the captioning runtime's graphs (vision encoder, cross-attention K/V,
// decoder step) at one precision, and of a naive decoder that keeps no cache: every step re-runs
// the whole prefix and re-projects the image states into cross-attention keys/values, as
// Hugging Face BLIP does without `past_key_values`.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { openCheckpoint, type BlipCheckpoint, type CheckpointWeights } from '../blip/checkpoint/index.js';
import type { BlipTextConfig } from '../blip/config.js';
import { visionSequenceLength } from '../blip/config.js';
import { GraphBuilder, type Value, writeModel } from '../blip/onnx/index.js';
import type { Precision } from '../blip/onnx/linear.js';
import { dimension, gather, squeezeToScalar } from '../blip/onnx/ops.js';
import { buildVisionGraph, VISION_GRAPH } from '../blip/modeling/vision.js';
import {
  buildCrossKeyValueGraph, buildDecoderStepGraph, crossKeyName, crossValueName, DECODER_STEP_GRAPH, pastKeyName,
  pastValueName, presentKeyName, presentValueName, TEXT_DECODER_PREFIX,
} from '../blip/modeling/text-decoder.js';
import { bertLayer, causalMask, lmHead, textEmbeddings, textHeadShape } from '../blip/modeling/text.js';
import { fillGaussian } from '../blip/tools/random-checkpoint.js';
import { median } from './stats.js';

export interface GraphBenchOptions {
  checkpointDir: string;
  precision: Precision;
  threads: number;
  cacheDir: string;
  runs: number;
  /** generated tokens per caption */
  tokens: number;
  log: (line: string) => void;
}

export interface GraphTimings {
  visionMs: number;
  crossKvMs: number;
  /** mean step time over a `tokens`-long generation, median over runs, by batch size */
  decodeMsPerToken: Record<'1' | '8', number>;
  /** vision + `tokens` naive steps (no cache, cross K/V recomputed) at batch 1 */
  naiveCaptionMs: number;
  /** vision + cross K/V + `tokens` cached steps at batch 1, from the same sessions */
  cachedCaptionMs: number;
}

export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
}

/** Naive decoding: `input_ids [batch, seq]` + image states -> next-token logits, nothing cached. */
export function buildNaiveDecoderGraph(weights: CheckpointWeights, precision: Precision, config: BlipTextConfig, prefix = TEXT_DECODER_PREFIX): GraphBuilder {
  const g = new GraphBuilder('text_decoder_naive');
  const ctx = { g, weights, precision };
  const inputIds = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const states = g.input('encoder_hidden_states', 'float32', ['batch', 'image_sequence', config.encoder_hidden_size]);
  const { embeddings, sequenceLength } = textEmbeddings(ctx, inputIds, `${prefix}.bert.embeddings`, config);
  const mask = causalMask(g, sequenceLength, g.int64s([0], []));
  let hidden: Value = embeddings;
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const layerPrefix = `${prefix}.bert.encoder.layer.${layer}`;
    hidden = g.within(layerPrefix, () =>
      bertLayer(ctx, hidden, { prefix: layerPrefix, config, selfAttentionMask: mask, crossAttention: { encoderStates: states } }).hidden,
    );
  }
  // HF computes logits for every position; only the last one picks the next token
  const last = gather(g, hidden, g.op('Sub', [squeezeToScalar(g, dimension(g, inputIds, 1)), g.int64s([1], [])]), 1);
  const logits = lmHead(ctx, last, prefix, config);
  g.output(logits, 'logits', 'float32', ['batch', config.vocab_size]);
  return g;
}

async function compiled(dir: string, name: string, build: () => GraphBuilder): Promise<string> {
  const file = path.join(dir, `${name}.onnx`);
  await writeModel(build(), file);
  return file;
}

function argmaxRows(logits: Float32Array, rows: number, vocab: number, stride: number, offset: number): bigint[] {
  const ids: bigint[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * stride + offset;
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[base + v]! > logits[base + best]!) best = v;
    ids.push(BigInt(best));
  }
  return ids;
}

export async function benchGraphs(options: GraphBenchOptions): Promise<GraphTimings> {
  const checkpoint: BlipCheckpoint = await openCheckpoint(options.checkpointDir, { cacheDir: options.cacheDir });
  const dir = path.join(options.cacheDir, 'bench-graphs', `${checkpoint.sha256.slice(0, 16)}-${options.precision}`);
  mkdirSync(dir, { recursive: true });
  const weights = await checkpoint.loadWeights();
  const context = { weights, precision: options.precision };
  const text = checkpoint.config.text_config;
  const vision = checkpoint.config.vision_config;
  options.log(`  compiling ${options.precision} graphs into ${dir}`);
  const files = {
    vision: await compiled(dir, 'vision', () => buildVisionGraph(context, vision)),
    crossKv: await compiled(dir, 'cross_kv', () => buildCrossKeyValueGraph(context, text)),
    step: await compiled(dir, 'decoder_step', () => buildDecoderStepGraph(context, text)),
    naive: await compiled(dir, 'decoder_naive', () => buildNaiveDecoderGraph(weights, options.precision, text)),
  };
  const opts = sessionOptions(options.threads);
  const sessions = {
    vision: await ort.InferenceSession.create(files.vision, opts),
    crossKv: await ort.InferenceSession.create(files.crossKv, opts),
    step: await ort.InferenceSession.create(files.step, opts),
    naive: await ort.InferenceSession.create(files.naive, opts),
  };
  try {
    const size = vision.image_size;
    const imageTokens = visionSequenceLength(vision);
    const layers = text.num_hidden_layers;
    const { heads, headDim } = textHeadShape(text);
    const vocab = text.vocab_size;
    const bos = 30522n;

    const pixelsFor = (batch: number): ort.Tensor => {
      const data = new Float32Array(batch * 3 * size * size);
      fillGaussian(data, 42 + batch, 0, 1);
      return new ort.Tensor('float32', data, [batch, 3, size, size]);
    };
    const runVision = async (batch: number): Promise<ort.Tensor> =>
      (await sessions.vision.run({ [VISION_GRAPH.input]: pixelsFor(batch) }))[VISION_GRAPH.output]!;
    const runCross = async (states: ort.Tensor): Promise<ort.InferenceSession.ReturnType> =>
      sessions.crossKv.run({ encoder_hidden_states: states });

    /** Greedy decoding of `tokens` steps with the cache; returns the mean ms per step. */
    const decode = async (cross: ort.InferenceSession.ReturnType, batch: number): Promise<number> => {
      const empty = new ort.Tensor('float32', new Float32Array(0), [batch, heads, 0, headDim]);
      const feeds: Record<string, ort.Tensor> = {};
      for (let l = 0; l < layers; l++) {
        feeds[crossKeyName(l)] = cross[crossKeyName(l)]!;
        feeds[crossValueName(l)] = cross[crossValueName(l)]!;
        feeds[pastKeyName(l)] = empty;
        feeds[pastValueName(l)] = empty;
      }
      let ids = new Array<bigint>(batch).fill(bos);
      const t0 = performance.now();
      for (let step = 0; step < options.tokens; step++) {
        feeds[DECODER_STEP_GRAPH.inputIds] = new ort.Tensor('int64', BigInt64Array.from(ids), [batch, 1]);
        const out = await sessions.step.run(feeds);
        ids = argmaxRows(out[DECODER_STEP_GRAPH.logits]!.data as Float32Array, batch, vocab, vocab, 0);
        for (let l = 0; l < layers; l++) {
          feeds[pastKeyName(l)] = out[presentKeyName(l)]!;
          feeds[pastValueName(l)] = out[presentValueName(l)]!;
        }
      }
      return (performance.now() - t0) / options.tokens;
    };

    const expandBatch = (cross: ort.InferenceSession.ReturnType, batch: number): ort.InferenceSession.ReturnType => {
      const out: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(cross)) {
        const one = t.data as Float32Array;
        const data = new Float32Array(one.length * batch);
        for (let b = 0; b < batch; b++) data.set(one, b * one.length);
        out[name] = new ort.Tensor('float32', data, [batch, ...t.dims.slice(1)]);
      }
      return out;
    };

    const naiveCaption = async (): Promise<number> => {
      const t0 = performance.now();
      const states = await runVision(1);
      const ids: bigint[] = [bos];
      for (let step = 0; step < options.tokens; step++) {
        const out = await sessions.naive.run({
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids), [1, ids.length]),
          encoder_hidden_states: states,
        });
        ids.push(argmaxRows(out.logits!.data as Float32Array, 1, vocab, vocab, 0)[0]!);
      }
      return performance.now() - t0;
    };

    const cachedCaption = async (): Promise<number> => {
      const t0 = performance.now();
      const states = await runVision(1);
      const cross = await runCross(states);
      await decode(cross, 1);
      return performance.now() - t0;
    };

    // warm-up of every session and shape
    const states1 = await runVision(1);
    const cross1 = await runCross(states1);
    const cross8 = expandBatch(cross1, 8);
    await decode(cross1, 1);
    await decode(cross8, 8);
    await naiveCaption();
    if (states1.dims[1] !== imageTokens) throw new Error(`vision graph gave ${states1.dims[1]} tokens, expected ${imageTokens}`);

    const samples = { vision: [] as number[], cross: [] as number[], d1: [] as number[], d8: [] as number[], naive: [] as number[], cached: [] as number[] };
    for (let run = 0; run < options.runs; run++) {
      let t0 = performance.now();
      const states = await runVision(1);
      samples.vision.push(performance.now() - t0);
      t0 = performance.now();
      const cross = await runCross(states);
      samples.cross.push(performance.now() - t0);
      samples.d1.push(await decode(cross, 1));
      samples.d8.push(await decode(cross8, 8));
      samples.naive.push(await naiveCaption());
      samples.cached.push(await cachedCaption());
    }
    const result: GraphTimings = {
      visionMs: median(samples.vision),
      crossKvMs: median(samples.cross),
      decodeMsPerToken: { '1': median(samples.d1), '8': median(samples.d8) },
      naiveCaptionMs: median(samples.naive),
      cachedCaptionMs: median(samples.cached),
    };
    options.log(`  ${options.precision} graphs: ${JSON.stringify(result)}`);
    return result;
  } finally {
    for (const s of Object.values(sessions)) await s.release();
  }
}
