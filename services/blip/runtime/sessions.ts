import * as ort from 'onnxruntime-node';
import { BlipRuntimeError } from '../errors.js';
import { taskVcpus } from './threads.js';

/**
 * onnxruntime-node sessions on the CPU: intra-op threads = vCPUs unless told, full graph optimisation.
 * The memory arena and memory pattern stay on: they keep each session's largest activations allocated
 * (~40 MiB more at the peak of an int8 BLIP-base process) but without them every run faults in fresh
 * pages and one caption takes ~20% longer (537-574 vs 425-457 ms, the benchmark's probe, interleaved).
 *
 * Every session has its own intra-op thread pool, whose threads by default spin-wait for work after a
 * run before they sleep. Only a session run as many small operators back to back (the decoder step:
 * hundreds per token) gains from that; a session of a few long operators (the vision encoder) would
 * keep a vCPU spinning into the next session's run instead: with the vision encoder's threads spinning,
 * the int8 decoder steps that follow it took 10.5-11.9 ms against 7.8-10.5 ms without (2 vCPUs).
 */

export interface SessionOptions {
  readonly threads?: number;
  /** whether idle intra-op threads spin-wait for the next operator (default: sleep) */
  readonly spinWait?: boolean;
}

/** The task's vCPUs (CPU affinity capped by a cgroup CPU quota). */
export const defaultThreads = (): number => taskVcpus();

/** The ONNX Runtime session options of `createSession`. */
export function sessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: options.threads ?? defaultThreads(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { 'intra_op.allow_spinning': options.spinWait ? '1' : '0' } },
  };
}

export async function createSession(file: string, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, sessionOptions(options));
  } catch (error) {
    throw new BlipRuntimeError('session_failed', `cannot load ${file}: ${String(error)}`, { cause: error });
  }
}

/**
 * Runs a session, wrapping failures in a BlipRuntimeError. `fetches` may name preallocated tensors
 * that onnxruntime writes the outputs into (`null` = let it allocate); without it, every output.
 */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  what: string,
  fetches?: Record<string, ort.Tensor | null>,
): Promise<ort.InferenceSession.ReturnType> {
  try {
    return await (fetches ? session.run(feeds, fetches) : session.run(feeds));
  } catch (error) {
    throw new BlipRuntimeError('inference_failed', `${what} failed: ${String(error)}`, { cause: error });
  }
}
