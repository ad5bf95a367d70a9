import type * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { BlipCheckpoint } from '../checkpoint/index.js';
import type { Precision } from '../onnx/linear.js';
import { type CompiledGraphs, compileGraphs } from './graph-cache.js';
import { createSession } from './sessions.js';

export { compileGraphs, graphCacheKey, type CompiledGraphs } from './graph-cache.js';
export { createSession, defaultThreads, runSession } from './sessions.js';

export interface RuntimeOptions {
  readonly cacheDir: string;
  readonly precision: Precision;
  readonly threads?: number;
  readonly logger?: Logger;
}

/** The compiled graphs of one checkpoint with an onnxruntime session for each. */
export class BlipRuntime {
  private constructor(
    readonly checkpoint: BlipCheckpoint,
    readonly compiled: CompiledGraphs,
    private readonly sessions: ReadonlyMap<string, ort.InferenceSession>,
  ) {}

  static async load(checkpoint: BlipCheckpoint, options: RuntimeOptions): Promise<BlipRuntime> {
    const compiled = await compileGraphs(checkpoint, options);
    const sessions = new Map<string, ort.InferenceSession>();
    try {
      for (const [name, file] of Object.entries(compiled.files)) {
        sessions.set(name, await createSession(file, { ...(options.threads ? { threads: options.threads } : {}) }));
      }
    } catch (error) {
      await Promise.all([...sessions.values()].map((session) => session.release()));
      throw error;
    }
    return new BlipRuntime(checkpoint, compiled, sessions);
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
