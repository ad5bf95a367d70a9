// `npm run simulate:scaling`: runs the idle → burst → trickle → idle arrival pattern through the
// model of the worker's scaling policy (services/scaling) for a few candidate settings and prints
// queue wait p50/p95/max and billed task-minutes. The stack's defaults were chosen from this table.
import { DEFAULT_SCALING, derivePolicy, type ScalingSettings } from '../services/scaling/policy.js';
import { MODEL_ASSUMPTIONS, README_ARRIVALS } from '../services/scaling/scenario.js';
import { burstThenTrickle, percentile, simulate } from '../services/scaling/simulate.js';

/** Fargate x86, us-east-1: 2 vCPU × $0.04048 + 4 GB × $0.004445 per hour, per minute. */
const TASK_MINUTE_USD = (2 * 0.04048 + 4 * 0.004445) / 60;

const ASSUMPTIONS = MODEL_ASSUMPTIONS;
const { arrivals, burst } = burstThenTrickle(README_ARRIVALS);

interface Candidate {
  name: string;
  settings: ScalingSettings;
  /** Seconds per image the tasks really take. */
  actualSecondsPerImage: number;
}

const base = DEFAULT_SCALING;
const candidates: Candidate[] = [
  { name: 'default: tiered, 60 s target, max 10, idle 10 min', settings: base, actualSecondsPerImage: 1.0 },
  { name: 'single first task', settings: { ...base, coldStart: 'single' }, actualSecondsPerImage: 1.0 },
  { name: 'max 5 tasks', settings: { ...base, maxTasks: 5 }, actualSecondsPerImage: 1.0 },
  { name: 'max 20 tasks, 30 s target', settings: { ...base, maxTasks: 20, acceptableLatencySeconds: 30 }, actualSecondsPerImage: 1.0 },
  { name: '120 s target', settings: { ...base, acceptableLatencySeconds: 120 }, actualSecondsPerImage: 1.0 },
  { name: 'idle 5 min', settings: { ...base, scaleInIdleMinutes: 5 }, actualSecondsPerImage: 1.0 },
  { name: 'idle 20 min', settings: { ...base, scaleInIdleMinutes: 20 }, actualSecondsPerImage: 1.0 },
  { name: 'max 5 tasks, idle 5 min', settings: { ...base, maxTasks: 5, scaleInIdleMinutes: 5 }, actualSecondsPerImage: 1.0 },
  { name: 'fp32 (1.5 s/image), default policy', settings: base, actualSecondsPerImage: 1.5 },
  { name: 'fp32, policy told 1.5 s/image', settings: { ...base, secondsPerImage: 1.5 }, actualSecondsPerImage: 1.5 },
];

const fmt = (seconds: number) => (seconds >= 600 ? `${(seconds / 60).toFixed(0)} min` : `${Math.round(seconds)} s`);

const burstStart = arrivals[0] ?? 0;
const rows: string[] = [];
rows.push('| setting | wait p50 | wait p95 | wait max | burst drained | trickle wait p50 / p95 / max | task-minutes (≈ $) | peak tasks | lost | killed mid-job |');
rows.push('|---|---|---|---|---|---|---|---|---|---|');
for (const c of candidates) {
  const policy = derivePolicy(c.settings);
  const r = simulate({ ...ASSUMPTIONS, policy, arrivals, secondsPerImage: c.actualSecondsPerImage });
  const burstDrained = Math.max(...r.completedAtById.slice(0, burst).map((x) => x ?? Infinity)) - burstStart;
  const trickleWaits = r.waitById.slice(burst).filter((x): x is number => x !== undefined);
  rows.push(
    `| ${c.name} | ${fmt(percentile(r.waits, 50))} | ${fmt(percentile(r.waits, 95))} | ${fmt(percentile(r.waits, 100))} | ${fmt(burstDrained)} | ${fmt(percentile(trickleWaits, 50))} / ${fmt(percentile(trickleWaits, 95))} / ${fmt(percentile(trickleWaits, 100))} | ${r.taskMinutes.toFixed(0)} ($${(r.taskMinutes * TASK_MINUTE_USD).toFixed(2)}) | ${r.peakTasks} | ${r.lost} | ${r.killedWithWork} |`,
  );
}

process.stdout.write(
  [
    `Arrivals: ${arrivals.length} images: idle 10 min, 1000 in 60 s, then a Poisson trickle (mean 1 per 30 s) for 30 min, then idle.`,
    `Assumptions: task start ${ASSUMPTIONS.taskStartSeconds} s, metric delay ${ASSUMPTIONS.metricDelaySeconds} s, 1-minute datapoints, target tracking after 3 breaching datapoints, stop timeout ${ASSUMPTIONS.stopTimeoutSeconds} s, receive batches of ${ASSUMPTIONS.batchSize}.`,
    '',
    ...rows,
    '',
  ].join('\n'),
);
