import type * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { BlipCheckpoint } from '../checkpoint/index.js';
import type { Precision } from '../onnx/linear.js';
import { type CompiledGraphs, compileGraphs } from './graph-cache.js';
import { ReusableBuffers } from './reusable-buffers.js';
import { DECODER_STEP_GRAPH } from '../modeling/text-decoder.js';
import { createSession } from './sessions.js';

export { compileGraphs, graphCacheKey, type CompiledGraphs } from './graph-cache.js';
export { createSession, defaultThreads, runSession } from './sessions.js';

export interface RuntimeOptions {
  readonly cacheDir: string;
  readonly precision: Precision;
  readonly threads?: number;
  readonly logger?: Logger;
  /** Decoder rows (images x beams) generated together; see DEFAULT_DECODER_ROWS. */
  readonly decoderRows?: number;
}

/**
 * Decoder rows generated together by default. Each captioning row holds its image's states and their
 * transpose for the whole generation (3.4 MiB at BLIP-base) plus its share of the decoder's
 * activations; more rows give more captions/s (README, Performance). The Fargate worker, with 4 GiB,
 * is deployed with 8 (BLIPLINE_DECODER_ROWS). Larger requests are split; results do not depend on
 * the split.
 */
export const DEFAULT_DECODER_ROWS = 4;

/** The compiled graphs of one checkpoint with an onnxruntime session for each. */
export class BlipRuntime {
  private constructor(
    readonly checkpoint: BlipCheckpoint,
    readonly compiled: CompiledGraphs,
    private readonly sessions: ReadonlyMap<string, ort.InferenceSession>,
    readonly decoderRows: number,
  ) {
    this.crossKeyValueBuffers = new ReusableBuffers(2 * checkpoint.config.text_config.num_hidden_layers);
  }

  /** Each decoder layer's cross-attention keys and values of a batch, reused call after call. */
  readonly crossKeyValueBuffers: ReusableBuffers;

  static async load(checkpoint: BlipCheckpoint, options: RuntimeOptions): Promise<BlipRuntime> {
    const compiled = await compileGraphs(checkpoint, options);
    const sessions = new Map<string, ort.InferenceSession>();
    try {
      for (const [name, file] of Object.entries(compiled.files)) {
        // only the decoder step runs many small operators back to back (sessions.ts)
        const spinWait = name === DECODER_STEP_GRAPH.name;
        sessions.set(name, await createSession(file, { ...(options.threads ? { threads: options.threads } : {}), spinWait }));
      }
    } catch (error) {
      await Promise.all([...sessions.values()].map((session) => session.release()));
      throw error;
    }
    return new BlipRuntime(checkpoint, compiled, sessions, options.decoderRows ?? DEFAULT_DECODER_ROWS);
  }

  /** Images decoded together when each has `beams` rows: larger batches are split into groups of this many. */
  imagesPerDecode(beams: number): number {
    return Math.max(1, Math.floor(this.decoderRows / beams));
  }

  get config() {
    return this.checkpoint.config;
  }

  session(graph: string): ort.InferenceSession {
    const session = this.sessions.get(graph);
    if (!session) throw new Error(`no compiled graph ${graph} for a ${this.config.kind} checkpoint`);
    return session;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((session) => session.release()));
  }
}
