// `npm run bench -- --profile-step [--rows N]`: where a decoder step's time goes, per ONNX Runtime operator
// type and per linear layer, from ONNX Runtime's own profile of the step session, beside the step's
// bandwidth floor at one row.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { z } from 'zod';
import type { Precision } from '../blip/onnx/linear.js';
import { fillGaussian } from '../blip/tools/random-checkpoint.js';
import { CaptioningGraphs, uniformPlan } from './captioning-graphs.js';
import { graphWeightBytes, type NodeWeights, nodeWeights } from './model-costs.js';

/** The events of ONNX Runtime's profile (Chrome trace format) this report reads; others pass through unread. */
const profileSchema = z.array(
  z.looseObject({
    cat: z.string().optional(),
    name: z.string(),
    dur: z.number().nonnegative().optional(),
    args: z.looseObject({ op_name: z.string().optional() }).optional(),
  }),
);

export interface OperatorShare {
  opType: string;
  nodesPerStep: number;
  msPerStep: number;
}

/** The kernels of one linear layer of every decoder layer (or of the LM head): how fast they read their weights. */
export interface LinearLayerShare {
  /** the weights' name with the layer number as `*`, and their dimensions */
  weights: string;
  nodesPerStep: number;
  msPerStep: number;
  /** weight bytes read per step over kernel time */
  gbps: number;
}

export interface StepProfile {
  precision: Precision;
  /** decoder rows, each with an image of its own */
  rows: number;
  steps: number;
  /** wall time per step measured around each session.run, profiling on */
  wallMsPerStep: number;
  /** ONNX Runtime's model_run events: the run inside the session */
  runMsPerStep: number;
  /** sum of the operators' kernel times */
  kernelMsPerStep: number;
  operators: OperatorShare[];
  /** the linear layers' kernels by weights, slowest reading first */
  linearLayers: LinearLayerShare[];
  /** kernel time of the linear layers: products that read the graph's weights (the states products read none) */
  weightKernelMsPerStep: number;
  /** bytes the step reads whole every run (graphWeightBytes) */
  weightBytes: number;
}

/** Operator types that read the step's weights: the linear layers' kernels. */
const LINEAR_OPERATORS: ReadonlySet<string> = new Set([
  'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'MatMulInteger', 'MatMulNBits', 'FusedMatMul', 'MatMul', 'Gemm', 'Conv',
]);

/**
 * The weights' name with the layer number as `*`, and stacked weights (`a.q+a.k+a.v.weight_int8`) by
 * what differs: `text_decoder.bert.encoder.layer.3.attention.self.query+...key+...value.weight_int8` ->
 * `text_decoder.bert.encoder.layer.*.attention.self.query+key+value`.
 */
function layerRole(weights: string): string {
  const [first = '', ...stacked] = weights.replace(/\.weight(_int8)?$/, '').replace(/\.layer\.\d+\./g, '.layer.*.').split('+');
  const prefix = first.slice(0, first.lastIndexOf('.') + 1);
  return [first, ...stacked.map((part) => (part.startsWith(prefix) ? part.slice(prefix.length) : part))].join('+');
}

/**
 * Aggregates an ONNX Runtime profile (the parsed JSON) per operator type, per step, and the linear
 * layers' kernels by their weights (`weights`: the compiled graph's `nodeWeights`; ONNX Runtime's fused
 * nodes keep the name of the product they replace).
 */
export function summariseProfile(
  events: unknown,
  weights: ReadonlyMap<string, NodeWeights>,
): { runs: number; runMs: number; operators: OperatorShare[]; linearLayers: LinearLayerShare[]; weightKernelMs: number } {
  const parsed = profileSchema.parse(events);
  const runs = parsed.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  if (runs.length === 0) throw new Error('the profile has no model_run event');
  const byType = new Map<string, { us: number; nodes: number }>();
  const byLayer = new Map<string, { us: number; nodes: number; bytes: number }>();
  for (const event of parsed) {
    if (event.cat !== 'Node' || !event.name.endsWith('_kernel_time')) continue;
    const opType = event.args?.op_name ?? 'unknown';
    const us = event.dur ?? 0;
    const entry = byType.get(opType) ?? { us: 0, nodes: 0 };
    entry.us += us;
    entry.nodes += 1;
    byType.set(opType, entry);
    const read = LINEAR_OPERATORS.has(opType) ? weights.get(event.name.slice(0, -'_kernel_time'.length)) : undefined;
    if (read) {
      const key = `${layerRole(read.name)} ${read.dims.join('x')}`;
      const layer = byLayer.get(key) ?? { us: 0, nodes: 0, bytes: 0 };
      layer.us += us;
      layer.nodes += 1;
      layer.bytes += read.bytes;
      byLayer.set(key, layer);
    }
  }
  const operators = [...byType]
    .map(([opType, { us, nodes }]) => ({ opType, nodesPerStep: nodes / runs.length, msPerStep: us / 1000 / runs.length }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  const linearLayers = [...byLayer]
    .map(([key, { us, nodes, bytes }]) => ({ weights: key, nodesPerStep: nodes / runs.length, msPerStep: us / 1000 / runs.length, gbps: bytes / us / 1000 }))
    .sort((a, b) => a.gbps - b.gbps);
  return {
    runs: runs.length,
    runMs: runs.reduce((t, e) => t + (e.dur ?? 0), 0) / 1000 / runs.length,
    operators,
    linearLayers,
    weightKernelMs: linearLayers.reduce((ms, l) => ms + l.msPerStep, 0),
  };
}

export async function profileDecoderStep(options: {
  checkpointDir: string;
  precision: Precision;
  threads: number;
  cacheDir: string;
  runs: number;
  tokens: number;
  rows: number;
  log: (line: string) => void;
}): Promise<StepProfile> {
  const dir = mkdtempSync(path.join(tmpdir(), 'blipline-step-profile-'));
  const graphs = await CaptioningGraphs.open({ ...options, plan: uniformPlan(options.precision), profileStepPrefix: path.join(dir, 'step'), log: options.log });
  try {
    const size = graphs.checkpoint.config.vision_config.image_size;
    const { rows, tokens } = options;
    const pixels = new Float32Array(rows * 3 * size * size);
    fillGaussian(pixels, 42, 0, 1);
    const cross = graphs.crossInputs(await graphs.imageStates(new ort.Tensor('float32', pixels, [rows, 3, size, size])));
    let wallMs = 0;
    for (let run = 0; run < options.runs; run++) wallMs += await graphs.greedySteps(cross, rows, tokens);
    graphs.decoderStep.endProfiling();
    const file = readdirSync(dir).find((name) => name.startsWith('step') && name.endsWith('.json'));
    if (!file) throw new Error(`ONNX Runtime wrote no profile into ${dir}`);
    const summary = summariseProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')), nodeWeights(graphs.decoderStepFile));
    const steps = options.runs * tokens;
    if (summary.runs !== steps) throw new Error(`the profile has ${summary.runs} step runs, ${steps} were made`);
    return {
      precision: options.precision,
      rows,
      steps,
      wallMsPerStep: wallMs / steps,
      runMsPerStep: summary.runMs,
      kernelMsPerStep: summary.operators.reduce((t, o) => t + o.msPerStep, 0),
      operators: summary.operators,
      linearLayers: summary.linearLayers,
      weightKernelMsPerStep: summary.weightKernelMs,
      weightBytes: graphWeightBytes(graphs.decoderStepFile),
    };
  } finally {
    await graphs.release();
    rmSync(dir, { recursive: true, force: true });
  }
}
