// The least time this machine could take for the benchmark's figures, from its measured limits and
// the model's costs, and how far the measured figures are from it (docs/performance.md, "Method").
import type { Precision } from '../blip/onnx/linear.js';
import type { CaptionCosts, Operations } from './model-costs.js';

/** This machine's limits, measured in the benchmark's run with its threads and session settings. */
export interface MachineLimits {
  /** float32 matrix products at the vision encoder's shapes, 1e9 operations per second */
  fp32Gflops: number;
  /** int8 matrix products (DynamicQuantizeMatMul) at the same shapes */
  int8Gops: number;
  /** memory read bandwidth, 1e9 bytes per second */
  readGBps: number;
}

export interface Floors {
  /** one image, vision encoder plus the generation at one row */
  captionMs: number;
  /** images decoded `batch` rows together */
  captionsPerSec: number;
  /** a batch-1 step's reads at the read bandwidth, mean over the generation */
  decodeMsPerToken: number;
}

export interface Ratios {
  /** measured ÷ floor: 1 is the floor, more is slower */
  captionVsFloor: number;
  /** measured ÷ floor rate: 1 is the floor, less is slower */
  throughputVsFloor: number;
  /** measured ÷ floor */
  decodeVsBandwidthFloor: number;
}

/** The figures the ratios compare, as the benchmark measures them. */
export interface MeasuredFigures {
  captionMs: number;
  captionsPerSec: number;
  decodeMsPerToken: number;
}

/** Each limit's samples reduced to one number. */
function perLimit(samples: readonly MachineLimits[], reduce: (values: number[]) => number): MachineLimits {
  if (samples.length === 0) throw new RangeError('no machine measurement');
  return {
    fp32Gflops: reduce(samples.map((s) => s.fp32Gflops)),
    int8Gops: reduce(samples.map((s) => s.int8Gops)),
    readGBps: reduce(samples.map((s) => s.readGBps)),
  };
}

/** The higher of each limit: the best this machine was seen to do in a run whose load may change. */
export function bestLimits(samples: readonly MachineLimits[]): MachineLimits {
  return perLimit(samples, (values) => Math.max(...values));
}

/**
 * How far the limits moved between samples, per limit: the lowest sample as a fraction below the
 * highest (0 = steady). A host whose limits move by more than a few percent within one run (other
 * tenants' load) gives ratios against the higher samples that overstate how far the figures are
 * from what the machine offered while they were measured.
 */
export function limitsDrift(samples: readonly MachineLimits[]): MachineLimits {
  return perLimit(samples, (values) => 1 - Math.min(...values) / Math.max(...values));
}

/** Milliseconds for `operations` at the machine's rates: linear layers at the precision's rate, the rest float32. */
export function computeMs(operations: Operations, precision: Precision, machine: MachineLimits): number {
  const linearRate = precision === 'int8' ? machine.int8Gops : machine.fp32Gflops;
  return operations.linear / (linearRate * 1e6) + operations.float / (machine.fp32Gflops * 1e6);
}

/** Milliseconds to read `bytes` once at the machine's read bandwidth. */
export const readMs = (bytes: number, machine: MachineLimits): number => bytes / (machine.readGBps * 1e6);

/**
 * A step of `rows` rows takes at least its operations at the compute ceilings and at least its reads
 * (weights once, each row's states and cache) at the read bandwidth: the larger of the two.
 */
function stepFloorMs(step: CaptionCosts['steps'][number], costs: CaptionCosts, rows: number, precision: Precision, machine: MachineLimits): number {
  const compute = computeMs({ linear: step.operations.linear * rows, float: step.operations.float * rows }, precision, machine);
  return Math.max(compute, readMs(costs.stepWeightBytes + rows * step.rowBytes, machine));
}

/** A batch-1 step's reads at `readGBps`, the mean over the caption's steps. */
export function decodeBandwidthFloorMs(costs: CaptionCosts, readGBps: number): number {
  if (costs.steps.length === 0) throw new RangeError('a caption of no steps has no decode floor');
  return costs.steps.reduce((total, step) => total + (costs.stepWeightBytes + step.rowBytes) / (readGBps * 1e6), 0) / costs.steps.length;
}

/** One image through the vision encoder: its operations at the ceilings. */
export const visionFloorMs = (costs: CaptionCosts, precision: Precision, machine: MachineLimits): number => computeMs(costs.vision, precision, machine);

export function floors(costs: CaptionCosts, precision: Precision, machine: MachineLimits, batch: number): Floors {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, not ${batch}`);
  const visionMs = visionFloorMs(costs, precision, machine);
  const sum = (f: (step: CaptionCosts['steps'][number]) => number): number => costs.steps.reduce((total, step) => total + f(step), 0);
  const perImageInBatchMs = visionMs + sum((step) => stepFloorMs(step, costs, batch, precision, machine)) / batch;
  return {
    captionMs: visionMs + sum((step) => stepFloorMs(step, costs, 1, precision, machine)),
    captionsPerSec: 1000 / perImageInBatchMs,
    decodeMsPerToken: decodeBandwidthFloorMs(costs, machine.readGBps),
  };
}

export function ratios(measured: MeasuredFigures, floor: Floors): Ratios {
  return {
    captionVsFloor: measured.captionMs / floor.captionMs,
    throughputVsFloor: measured.captionsPerSec / floor.captionsPerSec,
    decodeVsBandwidthFloor: measured.decodeMsPerToken / floor.decodeMsPerToken,
  };
}

/**
 * The figures measured faster than their floor, described. The floors are lower bounds only while the
 * limits are not understated: a figure that beats its floor means a limit was measured too low (as
 * when other sessions' spinning threads took a vCPU from the matrix-product measurements), and every
 * ratio of the run is flattered. The vision encoder is checked on its own, as a caption's steps can
 * hide its gain below the floor.
 */
export function beatenFloors(measured: Ratios & { visionVsFloor: number }): string[] {
  const beaten: [string, boolean, number][] = [
    ['the vision encoder', measured.visionVsFloor < 1, measured.visionVsFloor],
    ['one caption', measured.captionVsFloor < 1, measured.captionVsFloor],
    ['captions/s in batches', measured.throughputVsFloor > 1, measured.throughputVsFloor],
    ['the decoder step at one row', measured.decodeVsBandwidthFloor < 1, measured.decodeVsBandwidthFloor],
  ];
  return beaten.filter(([, below]) => below).map(([figure, , ratio]) => `${figure} (${ratio.toFixed(2)}x its floor)`);
}
