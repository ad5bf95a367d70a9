// `npm run bench`: BLIP-base captioning (and VQA) on random weights at the real shapes, per
// precision: per-graph timings, the product path through loadBlip in a fresh process (cold start
// with cached graphs, one caption, batches of eight, peak RSS), and a naive uncached decoder.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBlipConfig } from '../blip/config.js';
import type { Precision } from '../blip/onnx/linear.js';
import { DEFAULT_DECODER_ROWS } from '../blip/runtime/index.js';
import { bundle, BUNDLE_ENV, BUNDLE_NODE_FLAGS } from '../build/cli-bundle.js';
import { repoRoot } from '../core/paths.js';
import { uniformPlan } from './captioning-graphs.js';
import { cacheRoot, ensureBaseCheckpoint, fixturePixelFiles } from './checkpoints.js';
import { benchGraphs } from './graph-timings.js';
import type { ProbeArgs, ProbeMessage } from './probe.js';
import { beatenFloors, bestLimits, floors, limitsDrift, type MachineLimits, ratios, visionFloorMs } from './floors.js';
import { measureMachine } from './machine.js';
import { captionCosts } from './model-costs.js';
import type { PrecisionReport } from './report.js';
import { median } from './stats.js';

/** Limits that move by more than this within one run (lowest below highest sample) make its ratios unreliable. */
const UNSTEADY_LIMITS = 0.1;

export type { PrecisionReport } from './report.js';

export interface BenchOptions {
  precisions: Precision[];
  threads: number;
  runs: number;
  tokens: number;
  batch: number;
  /** a captioning checkpoint folder to measure instead of the random-weight BLIP-base one */
  model?: string;
  log: (line: string) => void;
}

/** Figures the table shows beyond the JSON line. */
export interface PrecisionDetails {
  /** vision + cross-attention inputs + 20 cached steps from the per-graph sessions, interleaved with the naive runs */
  cachedCaptionMs: number;
  /**
   * The batches again decoded in rows of the library's default (DEFAULT_DECODER_ROWS) instead of all of
   * a batch's rows together (the worker's setting, the JSON line's): the memory it saves, the speed it costs.
   */
  defaultRows: { decoderRows: number; captionsPerSec: number; peakRssMiB: number };
  /** the vision encoder's time ÷ its floor (its operations at the ceilings) */
  visionVsFloor: number;
}

export interface BenchContext {
  machine: string;
  threads: number;
  loadAverage: number[];
  onnxruntime: string;
}

/** VQA on blip-vqa-base shapes (issue 3): medians of the `ask` timings. */
export interface VqaReport {
  task: 'vqa';
  precision: Precision;
  visionMs: number;
  questionMs: number;
  decodeMsPerToken: number;
  answerMs: number;
  answerTokens: number;
  peakRssMiB: number;
}

const probeSource = path.join(path.dirname(fileURLToPath(import.meta.url)), 'probe.ts');
let probeBundle: Promise<string> | undefined;

/**
 * Bundles probe.ts with the options of the production CLI bundle (services/build/cli-bundle.ts), once
 * per bench run, into .cache/blipline/bench/probe.mjs, and returns that file. The probe then runs on
 * plain Node as the worker image does, so cold start and RSS do not include tsx compiling TypeScript.
 * Always under the repository (not BLIPLINE_CACHE_DIR): the bundle imports packages from its node_modules.
 */
export function bundleProbe(): Promise<string> {
  probeBundle ??= bundle({ entry: probeSource, outDir: path.join(repoRoot, '.cache/blipline/bench'), name: 'probe' }).then((built) => built.file);
  return probeBundle;
}

/** Runs the bundled probe in a fresh Node process; resolves with its messages and the parent-side wall times. */
async function runProbe(args: ProbeArgs): Promise<{ messages: ProbeMessage[]; firstCaptionWallMs: number }> {
  const probeFile = await bundleProbe();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstCaptionWallMs = Number.NaN;
    const child = spawn(process.execPath, [...BUNDLE_NODE_FLAGS, probeFile, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...BUNDLE_ENV, LOG_LEVEL: 'silent' },
    });
    const messages: ProbeMessage[] = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (!line.startsWith('{')) continue;
        const message = JSON.parse(line) as ProbeMessage;
        if (message.event === 'first-caption') firstCaptionWallMs = performance.now() - started;
        messages.push(message);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ messages, firstCaptionWallMs });
      else reject(new Error(`benchmark probe exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

function machineDescription(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.availableParallelism()} vCPU, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
}

export async function benchContext(threads: number): Promise<BenchContext> {
  const ortPackage = (await import('onnxruntime-node/package.json', { with: { type: 'json' } })) as { default: { version: string } };
  return { machine: machineDescription(), threads, loadAverage: os.loadavg(), onnxruntime: ortPackage.default.version };
}

export async function benchVqa(options: Omit<BenchOptions, 'batch' | 'model'> & { model?: string }): Promise<VqaReport[]> {
  const { log } = options;
  log(`probe bundled into ${path.relative(repoRoot, await bundleProbe())}`);
  const dir = options.model ? path.resolve(options.model) : ensureBaseCheckpoint('vqa').dir;
  log(`vqa checkpoint ${dir}`);
  const reports: VqaReport[] = [];
  for (const precision of options.precisions) {
    const probeArgs: ProbeArgs = {
      task: 'vqa', model: dir, precision, threads: options.threads, cacheDir: path.join(cacheRoot(), 'graphs'),
      images: fixturePixelFiles(), tokens: options.tokens, runs: 0, batch: 1,
    };
    log(`vqa ${precision}: compiling or reusing the runtime's graphs`);
    await runProbe(probeArgs); // compiling happens in a process of its own, outside the measured peak
    log(`vqa ${precision}: ${options.runs} answers after warm-up`);
    const probe = await runProbe({ ...probeArgs, runs: options.runs });
    const result = probe.messages.find((m) => m.event === 'vqa');
    if (!result || result.event !== 'vqa') throw new Error('vqa probe gave no result');
    reports.push({
      task: 'vqa', precision, visionMs: median(result.visionMs), questionMs: median(result.questionMs),
      decodeMsPerToken: median(result.decodeMsPerToken), answerMs: median(result.answerMs),
      answerTokens: median(result.answerTokens), peakRssMiB: result.peakRssMiB,
    });
    log(`vqa ${precision}: ${JSON.stringify(reports.at(-1))}`);
  }
  return reports;
}

export async function benchCaptioning(options: BenchOptions): Promise<{ reports: PrecisionReport[]; details: PrecisionDetails[] }> {
  const { log } = options;
  log(`probe bundled into ${path.relative(repoRoot, await bundleProbe())}`);
  const started = performance.now();
  let checkpoint: { dir: string };
  if (options.model) {
    checkpoint = { dir: path.resolve(options.model) };
    log(`checkpoint ${checkpoint.dir}`);
  } else {
    const written = ensureBaseCheckpoint('captioning');
    checkpoint = written;
    log(`checkpoint ${written.dir} (${(written.info.parameters / 1e6).toFixed(1)}M parameters, ${written.reused ? 'reused' : 'written'}) ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const images = fixturePixelFiles();
  const graphCache = path.join(cacheRoot(), 'graphs');
  const config = await readBlipConfig(checkpoint.dir);
  const reports: PrecisionReport[] = [];
  const details: PrecisionDetails[] = [];
  for (const precision of options.precisions) {
    // the limits are measured before and after the figures, and the higher of each kept: under a
    // changing load the floors are the lowest this run supports, and no ratio is flattered
    const measureLimits = async (when: string): Promise<MachineLimits> => {
      log(`${precision}: this machine's limits, ${when}`);
      const limits = await measureMachine({ vision: config.vision_config, threads: options.threads, runs: Math.max(options.runs, 5), log });
      log(`${precision}: ${JSON.stringify(limits)}`);
      return limits;
    };
    const limitsBefore = await measureLimits('before');
    log(`${precision}: per-graph timings`);
    const graphs = await benchGraphs({
      checkpointDir: checkpoint.dir, plan: uniformPlan(precision), threads: options.threads, cacheDir: cacheRoot(),
      runs: options.runs, tokens: options.tokens, log,
    });
    const probeArgs: ProbeArgs = {
      model: checkpoint.dir, precision, threads: options.threads, cacheDir: graphCache, images, tokens: options.tokens,
      runs: 0, batch: options.batch,
    };
    log(`${precision}: compiling or reusing the runtime's graphs`);
    await runProbe(probeArgs); // makes sure the compiled graphs are cached before the cold start
    // one caption and the cold start; batches in rows of the library's default
    log(`${precision}: cold start, captions, batches of ${options.batch} decoded ${DEFAULT_DECODER_ROWS} rows at a time`);
    const probe = await runProbe({ ...probeArgs, runs: options.runs });
    const first = probe.messages.find((m) => m.event === 'first-caption');
    const done = probe.messages.find((m) => m.event === 'done');
    if (!first || !done || first.event !== 'first-caption' || done.event !== 'done') throw new Error('benchmark probe gave no result');
    if (!first.cacheHit) throw new Error('cold start did not reuse the compiled graphs');
    log(`${precision}: cold start ${probe.firstCaptionWallMs.toFixed(0)} ms wall (loadBlip ${first.loadMs.toFixed(0)} ms, first caption done ${first.sinceProcessStartMs.toFixed(0)} ms after process start); RSS after work ${done.rssAfterMiB.toFixed(0)} MiB`);
    // batches as the worker decodes them and the throughput floor assumes: all of a batch's rows together
    log(`${precision}: batches of ${options.batch} decoded ${options.batch} rows at once (the worker's setting)`);
    const whole = (await runProbe({ ...probeArgs, runs: options.runs, decoderRows: options.batch })).messages.find((m) => m.event === 'done');
    if (!whole || whole.event !== 'done') throw new Error('benchmark probe gave no result');
    const limitSamples = [limitsBefore, await measureLimits('after')];
    const machine = bestLimits(limitSamples);
    const drift = limitsDrift(limitSamples);
    const unsteady = Object.entries(drift).filter(([, moved]) => moved > UNSTEADY_LIMITS);
    if (unsteady.length > 0) {
      log(`${precision}: warning: this machine's limits moved during the run (${unsteady.map(([name, moved]) => `${name} ${(100 * moved).toFixed(0)}% below its higher sample`).join(', ')}); the ratios are against the higher samples and overstate the gap; measure on a steadier host`);
    }
    const costs = captionCosts(config, graphs.decoderStepWeightBytes, options.tokens);
    const floor = floors(costs, precision, machine, options.batch);
    const captionMs = median(done.captionMs);
    log(`${precision}: a step reads ${(graphs.decoderStepWeightBytes / 1e6).toFixed(1)} MB of weights; floors ${JSON.stringify(floor)}`);
    const measuredRatios = ratios({ captionMs, captionsPerSec: whole.captionsPerSecBatch, decodeMsPerToken: graphs.decodeMsPerToken['1'] }, floor);
    const visionVsFloor = graphs.visionMs / visionFloorMs(costs, precision, machine);
    const beaten = beatenFloors({ ...measuredRatios, visionVsFloor });
    if (beaten.length > 0) {
      log(`${precision}: warning: measured faster than the floor: ${beaten.join(', ')}; a limit of this machine was measured too low, so every ratio of this run is flattered`);
    }
    reports.push({
      precision,
      visionMs: graphs.visionMs,
      crossKvMs: graphs.crossKvMs,
      decodeMsPerToken: graphs.decodeMsPerToken,
      captionMs,
      captionsPerSecBatch8: whole.captionsPerSecBatch,
      peakRssMiB: whole.peakRssMiB,
      coldStartMs: probe.firstCaptionWallMs,
      naiveCaptionMs: graphs.naiveCaptionMs,
      machine,
      floors: floor,
      ratios: measuredRatios,
    });
    details.push({
      cachedCaptionMs: graphs.cachedCaptionMs,
      defaultRows: { decoderRows: DEFAULT_DECODER_ROWS, captionsPerSec: done.captionsPerSecBatch, peakRssMiB: done.peakRssMiB },
      visionVsFloor,
    });
    log(`${precision}: ${JSON.stringify(reports.at(-1))} ${JSON.stringify(details.at(-1))}`);
  }
  return { reports, details };
}
