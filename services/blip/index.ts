import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { runtimeEnv } from '../core/config.js';
import { repoRoot } from '../core/paths.js';
import { openCheckpoint } from './checkpoint/index.js';
import type { BlipModelKind } from './config.js';
import { BlipUsageError } from './errors.js';
import { newTokenBudget, parseCaptionOptions } from './generation/caption-options.js';
import type { Precision } from './onnx/linear.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, type ProcessorConfig, preprocessImage, readProcessorConfig } from './processing/index.js';
import { generateCaptions } from './runtime/captioning.js';
import { BlipRuntime } from './runtime/index.js';
import { type DownloadProgress, resolveModelDir } from './source/index.js';
import { type BlipTokenizer, loadTokenizer } from './tokenization/index.js';
import { scoreImage, validateTexts } from './tasks/matching.js';
import { answerQuestion, prepareAsk } from './tasks/vqa.js';
import type { CaptionCandidate } from './tasks/rerank.js';

/**
 * The BLIP runtime's public face: load a checkpoint (local folder or Hub id), compile it to ONNX graphs
 * (cached on disk), and caption, answer or score images on the CPU.
 */

export { BlipCheckpointError, BlipError, BlipRuntimeError, BlipUsageError } from './errors.js';
export { ImageInputError } from './processing/index.js';
export { ModelSourceError, type DownloadProgress } from './source/index.js';
export type { BlipModelKind } from './config.js';
export { type CaptionCandidate, type RankedCandidate, rerankCandidates } from './tasks/rerank.js';
export type { Precision } from './onnx/linear.js';

export type ImageInput =
  | Uint8Array // encoded file bytes (JPEG/PNG/WebP/AVIF/GIF/TIFF...)
  | { pixelValues: Float32Array; height: number; width: number }; // already preprocessed [1,3,H,W]
export interface CaptionOptions {
  prompt?: string;
  beams?: number;
  maxNewTokens?: number;
  minNewTokens?: number;
  repetitionPenalty?: number;
  /** Also return this many beam candidates (2..16, at most `beams`; `beams` defaults to it). */
  candidates?: number;
}
export interface AskOptions {
  beams?: number;
  maxNewTokens?: number;
}
export interface GenerationResult {
  text: string;
  tokenIds: number[];
  timingsMs: Record<string, number>;
  /** With `candidates`: the best finished beams, best first (`text` and `tokenIds` are the first). */
  candidates?: CaptionCandidate[];
  /** `ask`: true when the question was longer than the model takes and was truncated. */
  truncated?: boolean;
}
export interface ScoreResult {
  text: string;
  itmLogits: [number, number];
  itmProbability: number;
  itcCosine: number;
  /** True when the text was longer than the model takes and was truncated. */
  truncated?: boolean;
}
export interface BlipModel {
  readonly kind: BlipModelKind;
  /** Model name for records, e.g. "Salesforce/blip-image-captioning-base". */
  readonly name: string;
  readonly checkpointSha256: string;
  caption(images: ImageInput[], options?: CaptionOptions): Promise<GenerationResult[]>;
  ask(images: ImageInput[], question: string, options?: AskOptions): Promise<GenerationResult[]>;
  score(image: ImageInput, texts: string[]): Promise<ScoreResult[]>;
  dispose(): Promise<void>;
}

export interface LoadBlipOptions {
  /** A local checkpoint folder or a Hugging Face Hub id. */
  model: string;
  /** @default 'fp32' */
  precision?: Precision;
  /** Intra-op threads. @default the machine's vCPUs */
  threads?: number;
  /** Compiled graphs (and checkpoint hashes). @default env BLIPLINE_CACHE_DIR, else `.cache/blipline/graphs` in the repository */
  cacheDir?: string;
  logger?: Logger;
  /** Called as checkpoint files download from the Hub (never for a local folder or a cached download). */
  onDownloadProgress?: (progress: DownloadProgress) => void;
  /** The kind of checkpoint the caller needs: another kind fails with `wrong_model_kind` before any graph is compiled. */
  kind?: BlipModelKind;
  /** Largest declared width x height of an encoded input; larger ones fail `too_many_pixels`. @default 40000000 */
  maxPixels?: number;
  /** Decoder rows (images x beams) generated together: memory vs batching. @default DEFAULT_DECODER_ROWS (4) */
  decoderRows?: number;
}

/** Encoded inputs of one call decoded at a time: each decode holds a full RGB frame, so bound the peak memory. */
const DECODE_CONCURRENCY = 2;

/** How the model started: whether compiled graphs were reused, and how long compiling or reuse took. */
export interface StartupInfo {
  readonly cacheHit: boolean;
  readonly compileMs: number;
  readonly graphDir: string;
  readonly modelDir: string;
}

export interface LoadedBlipModel extends BlipModel {
  readonly startup: StartupInfo;
  /** The compiled graphs' sessions the model runs on (fidelity checks run them step by step). */
  readonly runtime: BlipRuntime;
}

/** The compiled-graph cache: BLIPLINE_CACHE_DIR, else .cache/blipline/graphs in the repository. */
export function defaultCacheDir(): string {
  return runtimeEnv('BLIPLINE_CACHE_DIR') ?? path.join(repoRoot, '.cache/blipline/graphs');
}

/** Marker a Hub download leaves in the checkpoint folder (kept when the folder is copied). */
const downloadMarkerSchema = z.object({ repo: z.string().min(1), revision: z.string().min(1).optional() });

/**
 * The Hub repository the folder came from when known (e.g. "Salesforce/blip-image-captioning-base"), with the
 * revision it was pinned to unless that was the default `main` ("owner/name@v1.0", as the stack names it), else
 * `requested`.
 */
async function modelName(modelDir: string, requested: string): Promise<string> {
  try {
    const marker = downloadMarkerSchema.safeParse(JSON.parse(await readFile(path.join(modelDir, '.blipline-download.json'), 'utf8')));
    if (!marker.success) return requested;
    const { repo, revision } = marker.data;
    return revision === undefined || revision === 'main' ? repo : `${repo}@${revision}`;
  } catch {
    return requested;
  }
}

export async function loadBlip(options: LoadBlipOptions): Promise<LoadedBlipModel> {
  const cacheDir = path.resolve(options.cacheDir ?? defaultCacheDir());
  const modelDir = await resolveModelDir(options.model, options.onDownloadProgress ? { onProgress: options.onDownloadProgress } : {});
  const checkpoint = await openCheckpoint(modelDir, { cacheDir });
  if (options.kind && checkpoint.config.kind !== options.kind) {
    throw new BlipUsageError('wrong_model_kind', `${options.model} is a ${checkpoint.config.kind} checkpoint (${checkpoint.config.architectures.join(', ')}); this needs a ${options.kind} checkpoint`);
  }
  const [tokenizer, processor] = await Promise.all([loadTokenizer(modelDir), readProcessorConfig(modelDir)]);
  const runtime = await BlipRuntime.load(checkpoint, {
    cacheDir,
    precision: options.precision ?? 'fp32',
    ...(options.threads ? { threads: options.threads } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.decoderRows ? { decoderRows: options.decoderRows } : {}),
  });
  const { cacheHit, compileMs, dir } = runtime.compiled;
  return new LocalBlipModel(runtime, tokenizer, processor, {
    name: await modelName(modelDir, options.model),
    startup: { cacheHit, compileMs, graphDir: dir, modelDir },
    imageLimits: { ...DEFAULT_IMAGE_LIMITS, ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}) },
  });
}

class LocalBlipModel implements LoadedBlipModel {
  readonly kind: BlipModelKind;
  readonly name: string;
  readonly checkpointSha256: string;
  readonly startup: StartupInfo;
  private readonly imageLimits: ImageLimits;

  constructor(
    readonly runtime: BlipRuntime,
    private readonly tokenizer: BlipTokenizer,
    private readonly processor: ProcessorConfig,
    details: { name: string; startup: StartupInfo; imageLimits: ImageLimits },
  ) {
    this.kind = runtime.config.kind;
    this.name = details.name;
    this.checkpointSha256 = runtime.checkpoint.sha256;
    this.startup = details.startup;
    this.imageLimits = details.imageLimits;
  }

  async caption(images: ImageInput[], options: CaptionOptions = {}): Promise<GenerationResult[]> {
    this.requireKind('captioning', 'caption');
    const started = performance.now();
    const validated = parseCaptionOptions(options);
    const text = this.runtime.config.text_config;
    const prompt = [text.bos_token_id, ...(validated.prompt ? this.tokenizer.encode(validated.prompt).slice(1, -1) : [])];
    const maxNewTokens = newTokenBudget(validated, prompt.length, text);
    if (images.length === 0) return [];

    const pixels = await this.pixelValues(images);
    const preprocessed = performance.now();
    const { tokenIds, candidates, timingsMs } = await generateCaptions(this.runtime, pixels, {
      prompt,
      beams: validated.beams,
      maxNewTokens,
      minNewTokens: validated.minNewTokens,
      repetitionPenalty: validated.repetitionPenalty,
      ...(validated.candidates ? { candidates: validated.candidates } : {}),
    });
    const timings = { preprocess: preprocessed - started, ...timingsMs, total: performance.now() - started };
    const decode = (ids: readonly number[]) => this.tokenizer.decode(ids);
    return tokenIds.map((ids, i) => ({
      text: decode(ids),
      tokenIds: ids,
      timingsMs: timings,
      ...(candidates ? { candidates: (candidates[i] ?? []).map((h) => ({ text: decode(h.tokens), tokenIds: [...h.tokens], beamScore: h.score })) } : {}),
    }));
  }

  async ask(images: ImageInput[], question: string, options: AskOptions = {}): Promise<GenerationResult[]> {
    this.requireKind('vqa', 'ask');
    const started = performance.now();
    const request = prepareAsk(this.runtime.config, this.tokenizer, question, options);
    if (images.length === 0) return [];
    const pixels = await this.pixelValues(images);
    const preprocessed = performance.now();
    const { tokenIds, timingsMs } = await answerQuestion(this.runtime, this.tokenizer, pixels, request);
    const timings = { preprocess: preprocessed - started, ...timingsMs, total: performance.now() - started };
    const truncated = request.question.truncated ? { truncated: true } : {};
    return tokenIds.map((ids) => ({ text: this.tokenizer.decode(ids), tokenIds: ids, timingsMs: timings, ...truncated }));
  }

  async score(image: ImageInput, texts: string[]): Promise<ScoreResult[]> {
    this.requireKind('retrieval', 'score');
    const valid = validateTexts(texts);
    const pixels = await this.imagePixels(image);
    const { scores } = await scoreImage(this.runtime, this.tokenizer, pixels, valid);
    return scores;
  }

  dispose(): Promise<void> {
    return this.runtime.dispose();
  }

  private requireKind(kind: BlipModelKind, method: string): void {
    if (this.kind !== kind) {
      throw new BlipUsageError('wrong_model_kind', `${method} needs a ${kind} checkpoint; ${this.name} is a ${this.kind} checkpoint`);
    }
  }

  /** Preprocessed `[1, 3, S, S]` pixel values of each input, checked against the vision tower's size. */
  /** One image's preprocessed pixel values. */
  private async imagePixels(image: ImageInput): Promise<Float32Array> {
    const [pixels] = await this.pixelValues([image]);
    if (!pixels) throw new BlipUsageError('invalid_input', 'no image given');
    return pixels;
  }

  private async pixelValues(images: readonly ImageInput[]): Promise<Float32Array[]> {
    const size = this.runtime.config.vision_config.image_size;
    const one = async (image: ImageInput): Promise<Float32Array> => {
      const { pixelValues, height, width } = image instanceof Uint8Array ? await preprocessImage(image, this.processor, this.imageLimits) : image;
      if (height !== size || width !== size || pixelValues.length !== 3 * size * size) {
        throw new BlipUsageError(
          'invalid_input',
          `pixel values must be [1, 3, ${size}, ${size}] (${3 * size * size} floats); got ${height}x${width} with ${pixelValues.length} floats`,
        );
      }
      return pixelValues;
    };
    // At most DECODE_CONCURRENCY decodes at once (10 large images decoded together could exhaust memory).
    const out: Float32Array[] = new Array<Float32Array>(images.length);
    let next = 0;
    const lane = async () => {
      while (next < images.length) {
        const i = next++;
        out[i] = await one(images[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, images.length) }, lane));
    return out;
  }
}
