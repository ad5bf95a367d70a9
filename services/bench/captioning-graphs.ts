// Compiles a captioning checkpoint's graphs with a precision per graph and opens ONNX Runtime
// sessions on them: the benchmark's and the fidelity measurement's way to run the very graphs
// the runtime builds, one graph at a time.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { openCheckpoint, type BlipCheckpoint, type CheckpointWeights } from '../blip/checkpoint/index.js';
import type { BlipTextConfig } from '../blip/config.js';
import { GraphBuilder, type Value, writeModel } from '../blip/onnx/index.js';
import type { Precision } from '../blip/onnx/linear.js';
import { dimension, gather, squeezeToScalar } from '../blip/onnx/ops.js';
import { buildVisionGraph, VISION_GRAPH } from '../blip/modeling/vision.js';
import { buildDecoderStepGraph, DECODER_STEP_GRAPH, pastKeyName, pastValueName, TEXT_DECODER_PREFIX } from '../blip/modeling/text-decoder.js';
import { bertLayer, causalMask, lmHead, textEmbeddings } from '../blip/modeling/text.js';
import { encoderStateInputs } from '../blip/runtime/captioning.js';
import { DecoderState } from '../blip/runtime/decoder-state.js';
import { sessionOptions } from '../blip/runtime/sessions.js';

/**
 * Fingerprint of the code that builds the graphs, so compiled graphs are reused across benchmark
 * runs only while the builder is unchanged.
 */
function builderFingerprint(): string {
  const blip = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../blip');
  const hash = createHash('sha256');
  for (const folder of ['onnx', 'modeling', 'quant']) {
    const dir = path.join(blip, folder);
    for (const name of readdirSync(dir).sort()) if (name.endsWith('.ts')) hash.update(name).update(readFileSync(path.join(dir, name)));
  }
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  return hash.digest('hex').slice(0, 12);
}

/** Precision of each captioning graph. */
export interface PrecisionPlan {
  vision: Precision;
  decoder: Precision;
}

export const uniformPlan = (precision: Precision): PrecisionPlan => ({ vision: precision, decoder: precision });
export const planName = (plan: PrecisionPlan): string => `v-${plan.vision}_dec-${plan.decoder}`;

/** Naive decoding: `input_ids [batch, seq]` + image states -> last position's logits, nothing cached. */
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
  // Hugging Face computes logits for every position; only the last one picks the next token
  const last = gather(g, hidden, g.op('Sub', [squeezeToScalar(g, dimension(g, inputIds, 1)), g.int64s([1], [])]), 1);
  g.output(lmHead(ctx, last, prefix, config), 'logits', 'float32', ['batch', config.vocab_size]);
  return g;
}

export class CaptioningGraphs {
  private constructor(
    readonly checkpoint: BlipCheckpoint,
    readonly vision: ort.InferenceSession,
    readonly decoderStep: ort.InferenceSession,
    readonly naive: ort.InferenceSession | undefined,
    /** the compiled decoder step graph's `.onnx` file */
    readonly decoderStepFile: string,
  ) {}

  static async open(options: {
    checkpointDir: string;
    plan: PrecisionPlan;
    threads: number;
    cacheDir: string;
    naive?: boolean;
    /** ONNX Runtime profiles the decoder step session into `<prefix>_<date>.json` (see step-profile.ts) */
    profileStepPrefix?: string;
    log?: (line: string) => void;
  }): Promise<CaptioningGraphs> {
    const checkpoint = await openCheckpoint(options.checkpointDir, { cacheDir: options.cacheDir });
    const dir = path.join(options.cacheDir, 'bench-graphs', `${checkpoint.sha256.slice(0, 16)}-${builderFingerprint()}`);
    mkdirSync(dir, { recursive: true });
    let weights: CheckpointWeights | undefined;
    const text = checkpoint.config.text_config;
    const compile = async (name: string, build: (w: CheckpointWeights) => GraphBuilder): Promise<string> => {
      const file = path.join(dir, `${name}.onnx`);
      if (existsSync(`${file}.done`)) return file;
      weights ??= await checkpoint.loadWeights();
      options.log?.(`  compiling ${name}`);
      await writeModel(build(weights), file);
      await writeFile(`${file}.done`, '');
      return file;
    };
    const { plan } = options;
    // the runtime's session settings: only sessions of many small operators (decoder steps) spin-wait
    const open = async (file: string, spinWait: boolean, extra: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession> =>
      ort.InferenceSession.create(file, { ...sessionOptions({ threads: options.threads, spinWait }), logSeverityLevel: 3, ...extra });
    const vision = await open(await compile(`vision-${plan.vision}`, (w) => buildVisionGraph({ weights: w, precision: plan.vision }, checkpoint.config.vision_config)), false);
    const stepFile = await compile(`decoder_step-${plan.decoder}`, (w) => buildDecoderStepGraph({ weights: w, precision: plan.decoder }, text, 'states'));
    const step = await open(stepFile, true, options.profileStepPrefix ? { enableProfiling: true, profileFilePrefix: options.profileStepPrefix } : {});
    const naive = options.naive
      ? await open(await compile(`decoder_naive-${plan.decoder}`, (w) => buildNaiveDecoderGraph(w, plan.decoder, text)), true)
      : undefined;
    return new CaptioningGraphs(checkpoint, vision, step, naive, stepFile);
  }

  get text(): BlipTextConfig {
    return this.checkpoint.config.text_config;
  }

  async imageStates(pixels: ort.Tensor): Promise<ort.Tensor> {
    return (await this.vision.run({ [VISION_GRAPH.input]: pixels }))[VISION_GRAPH.output]!;
  }

  /** What the decoder step cross-attends to for one image's states, as the runtime feeds it to `rows` rows. */
  crossInputs(states: ort.Tensor, rows = 1): Record<string, ort.Tensor> {
    return encoderStateInputs(states, rows);
  }

  /** Feeds for the decoder step with the given cross-attention inputs and an empty self-attention cache. */
  initialStepFeeds(cross: Record<string, ort.Tensor>, batch: number): Record<string, ort.Tensor> {
    const empty = new ort.Tensor('float32', new Float32Array(0), [0, batch, this.text.hidden_size]);
    const feeds: Record<string, ort.Tensor> = { ...cross };
    for (let l = 0; l < this.text.num_hidden_layers; l++) {
      feeds[pastKeyName(l)] = empty;
      feeds[pastValueName(l)] = empty;
    }
    return feeds;
  }

  /** Logits `[batch, T, vocab]` of every position of `ids` in one pass (teacher forcing). */
  async teacherForced(cross: Record<string, ort.Tensor>, ids: readonly number[]): Promise<Float32Array> {
    const feeds = this.initialStepFeeds(cross, 1);
    feeds[DECODER_STEP_GRAPH.inputIds] = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    return (await this.decoderStep.run(feeds))[DECODER_STEP_GRAPH.logits]!.data as Float32Array;
  }

  /**
   * Greedy decoding of `tokens` steps through the runtime's cached decoder state, one row per image of
   * `cross` (`crossInputs` of `rows` images); resolves the milliseconds the steps took.
   */
  async greedySteps(cross: Record<string, ort.Tensor>, rows: number, tokens: number): Promise<number> {
    const text = this.text;
    const state = new DecoderState(this.decoderStep, {
      layers: text.num_hidden_layers,
      hidden: text.hidden_size,
      vocabSize: text.vocab_size,
      crossInputs: cross,
      rowImages: Array.from({ length: rows }, (_, row) => row),
      capacity: tokens,
    });
    let ids = new Array<bigint>(rows).fill(BigInt(text.bos_token_id));
    const t0 = performance.now();
    for (let step = 0; step < tokens; step++) ids = argmaxRows(await state.step(ids.map((id) => [Number(id)])), rows, text.vocab_size);
    return performance.now() - t0;
  }

  async release(): Promise<void> {
    for (const s of [this.vision, this.decoderStep, this.naive]) await s?.release();
  }
}

export function argmaxRows(logits: Float32Array, rows: number, vocab: number): bigint[] {
  const ids: bigint[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * vocab;
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[base + v]! > logits[base + best]!) best = v;
    ids.push(BigInt(best));
  }
  return ids;
}
