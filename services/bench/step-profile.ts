// `npm run bench -- --profile-step`: where a decoder step's time goes at one row, per ONNX Runtime
// operator type, from ONNX Runtime's own profile of the step session, beside the step's bandwidth floor.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { z } from 'zod';
import type { Precision } from '../blip/onnx/linear.js';
import { DecoderState } from '../blip/runtime/decoder-state.js';
import { fillGaussian } from '../blip/tools/random-checkpoint.js';
import { argmaxRows, CaptioningGraphs, uniformPlan } from './captioning-graphs.js';
import { graphWeightBytes } from './model-costs.js';

/** The events of ONNX Runtime's profile (Chrome trace format) this report reads; others pass through unread. */
const profileSchema = z.array(
  z.looseObject({
    cat: z.string().optional(),
    name: z.string(),
    dur: z.number().nonnegative().optional(),
    args: z.looseObject({ op_name: z.string().optional(), parameter_size: z.coerce.number().optional() }).optional(),
  }),
);

export interface OperatorShare {
  opType: string;
  nodesPerStep: number;
  msPerStep: number;
}

export interface StepProfile {
  precision: Precision;
  steps: number;
  /** wall time per step measured around each session.run, profiling on */
  wallMsPerStep: number;
  /** ONNX Runtime's model_run events: the run inside the session */
  runMsPerStep: number;
  /** sum of the operators' kernel times */
  kernelMsPerStep: number;
  operators: OperatorShare[];
  /** kernel time of the linear layers: products with an initializer operand (the states products have none) */
  weightKernelMsPerStep: number;
  /** bytes the step reads whole every run (graphWeightBytes) */
  weightBytes: number;
}

/** Operator types that read the step's weights: the linear layers' kernels. */
export const LINEAR_OPERATORS: ReadonlySet<string> = new Set([
  'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'MatMulInteger', 'MatMulNBits', 'FusedMatMul', 'MatMul', 'Gemm', 'Conv',
]);

/** Aggregates an ONNX Runtime profile (the parsed JSON) per operator type, per step. */
export function summariseProfile(events: unknown): { runs: number; runMs: number; operators: OperatorShare[]; weightKernelMs: number } {
  const parsed = profileSchema.parse(events);
  const runs = parsed.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  if (runs.length === 0) throw new Error('the profile has no model_run event');
  const byType = new Map<string, { us: number; nodes: number }>();
  let weightKernelUs = 0;
  for (const event of parsed) {
    if (event.cat !== 'Node' || !event.name.endsWith('_kernel_time')) continue;
    const opType = event.args?.op_name ?? 'unknown';
    if (LINEAR_OPERATORS.has(opType) && (event.args?.parameter_size ?? 0) > 0) weightKernelUs += event.dur ?? 0;
    const entry = byType.get(opType) ?? { us: 0, nodes: 0 };
    entry.us += event.dur ?? 0;
    entry.nodes += 1;
    byType.set(opType, entry);
  }
  const operators = [...byType]
    .map(([opType, { us, nodes }]) => ({ opType, nodesPerStep: nodes / runs.length, msPerStep: us / 1000 / runs.length }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  return {
    runs: runs.length,
    runMs: runs.reduce((t, e) => t + (e.dur ?? 0), 0) / 1000 / runs.length,
    operators,
    weightKernelMs: weightKernelUs / 1000 / runs.length,
  };
}

export async function profileDecoderStep(options: {
  checkpointDir: string;
  precision: Precision;
  threads: number;
  cacheDir: string;
  runs: number;
  tokens: number;
  log: (line: string) => void;
}): Promise<StepProfile> {
  const dir = mkdtempSync(path.join(tmpdir(), 'blipline-step-profile-'));
  const graphs = await CaptioningGraphs.open({ ...options, plan: uniformPlan(options.precision), profileStepPrefix: path.join(dir, 'step'), log: options.log });
  try {
    const text = graphs.text;
    const size = graphs.checkpoint.config.vision_config.image_size;
    const pixels = new Float32Array(3 * size * size);
    fillGaussian(pixels, 42, 0, 1);
    const cross = graphs.crossInputs(await graphs.imageStates(new ort.Tensor('float32', pixels, [1, 3, size, size])));
    let wallMs = 0;
    for (let run = 0; run < options.runs; run++) {
      const state = new DecoderState(graphs.decoderStep, {
        layers: text.num_hidden_layers, hidden: text.hidden_size, vocabSize: text.vocab_size, crossInputs: cross, rowImages: [0], capacity: options.tokens,
      });
      let ids: bigint[] = [BigInt(text.bos_token_id)];
      const t0 = performance.now();
      for (let step = 0; step < options.tokens; step++) ids = argmaxRows(await state.step([[Number(ids[0])]]), 1, text.vocab_size);
      wallMs += performance.now() - t0;
    }
    graphs.decoderStep.endProfiling();
    const file = readdirSync(dir).find((name) => name.startsWith('step') && name.endsWith('.json'));
    if (!file) throw new Error(`ONNX Runtime wrote no profile into ${dir}`);
    const summary = summariseProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
    const steps = options.runs * options.tokens;
    if (summary.runs !== steps) throw new Error(`the profile has ${summary.runs} step runs, ${steps} were made`);
    return {
      precision: options.precision,
      steps,
      wallMsPerStep: wallMs / steps,
      runMsPerStep: summary.runMs,
      kernelMsPerStep: summary.operators.reduce((t, o) => t + o.msPerStep, 0),
      operators: summary.operators,
      weightKernelMsPerStep: summary.weightKernelMs,
      weightBytes: graphWeightBytes(graphs.decoderStepFile),
    };
  } finally {
    await graphs.release();
    rmSync(dir, { recursive: true, force: true });
  }
}
