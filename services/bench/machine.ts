// This machine's limits, measured inside the benchmark's run with its threads and session settings:
// the float32 and int8 matrix-product ceilings at the vision encoder's shapes (the `--micro` chains)
// and the memory read bandwidth (services/bench/micro/read-bandwidth.ts).
import type { BlipVisionConfig } from '../blip/config.js';
import { visionSequenceLength } from '../blip/config.js';
import type { MachineLimits } from './floors.js';
import { measureReadBandwidth } from './micro/read-bandwidth.js';
import { type MicroCase, runMicro } from './micro/run.js';

/** The vision encoder's linear layers at its token count: the attention projections and the MLP. */
export function visionCeilingCases(vision: BlipVisionConfig): MicroCase[] {
  const rows = [visionSequenceLength(vision)];
  const width = vision.hidden_size;
  return [
    { name: `projections ${width}x${width}`, widths: [width, width], repeats: vision.num_hidden_layers, rows },
    { name: `mlp ${width}->${vision.intermediate_size}->${width}`, widths: [width, vision.intermediate_size, width], repeats: Math.ceil(vision.num_hidden_layers / 2), rows },
  ];
}

export interface MachineOptions {
  vision: BlipVisionConfig;
  threads: number;
  runs: number;
  log: (line: string) => void;
}

/**
 * The ceilings are the faster of the two shapes (median of `runs` each); int8 is the form the int8
 * graphs emit (DynamicQuantizeLinear, MatMulInteger, scale), which ONNX Runtime fuses into
 * DynamicQuantizeMatMul.
 */
export async function measureMachine(options: MachineOptions): Promise<MachineLimits> {
  const products = await runMicro({
    threads: options.threads, runs: options.runs, cases: visionCeilingCases(options.vision), variants: ['fp32', 'dq-int8'],
    log: (line) => options.log(`  ${line}`),
  });
  const best = (variant: string): number => {
    const rates = products.filter((r) => r.variant === variant).map((r) => r.gflops);
    if (rates.length === 0) throw new Error(`no ${variant} matrix-product measurement`);
    return Math.max(...rates);
  };
  const read = await measureReadBandwidth({ threads: options.threads, runs: options.runs });
  options.log(`  read bandwidth ${read.gbps.toFixed(1)} GB/s (ReduceSum over ${(read.bytes / 2 ** 20).toFixed(0)} MiB)`);
  return { fp32Gflops: best('fp32'), int8Gops: best('dq-int8'), readGBps: read.gbps };
}
