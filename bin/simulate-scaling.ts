// `npm run simulate:scaling`: runs the idle → burst → trickle → idle arrival pattern through the
// model of the worker's scaling policy (services/scaling) for a few candidate settings and prints
// queue wait p50/p95/max and billed task-minutes. The stack's defaults were chosen from this table.
// A second table compares the current rules (task scale-in protection, target tracking both ways, an
// additive cold start) with the previous ones, with and without late and missing datapoints.
import { DEFAULT_SCALING, derivePolicy, type ScalingSettings } from '../services/scaling/policy.js';
import type { RuleSet } from '../services/scaling/rules.js';
import { DATAPOINT_FAULTS, MODEL_ASSUMPTIONS, README_ARRIVALS, STEADY_ARRIVALS, STEADY_MISSING_MINUTE } from '../services/scaling/scenario.js';
import { burstThenTrickle, type DatapointFaults, percentile, simulate, type SimulationResult } from '../services/scaling/simulate.js';

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
  { name: 'scale-in cooldown 60 s', settings: { ...base, scaleInCooldownSeconds: 60 }, actualSecondsPerImage: 1.0 },
  { name: 'fp32 (1.5 s/image), default policy', settings: base, actualSecondsPerImage: 1.5 },
  { name: 'fp32, policy told 1.5 s/image', settings: { ...base, secondsPerImage: 1.5 }, actualSecondsPerImage: 1.5 },
];

const fmt = (seconds: number) => (seconds >= 600 ? `${(seconds / 60).toFixed(0)} min` : `${Math.round(seconds)} s`);
const cost = (r: SimulationResult) => `${r.taskMinutes.toFixed(0)} ($${(r.taskMinutes * TASK_MINUTE_USD).toFixed(2)})`;

const burstStart = arrivals[0] ?? 0;
const trickleStartMinute = Math.ceil((README_ARRIVALS.idleBeforeSeconds + README_ARRIVALS.burstSeconds) / 60);
const trickleEndMinute = Math.floor((README_ARRIVALS.idleBeforeSeconds + README_ARRIVALS.burstSeconds + README_ARRIVALS.trickleSeconds) / 60);

/** Running tasks at the trickle's first and last whole minutes (after the burst drained, before it ends). */
function trickleFleet(r: SimulationResult): string {
  const during = r.timeline.filter((m) => m.minute >= trickleStartMinute + 10 && m.minute <= trickleEndMinute);
  return during.length === 0 ? '-' : `${during[0]?.running.toFixed(0)} → ${during.at(-1)?.running.toFixed(0)}`;
}

const rows: string[] = [];
rows.push('| setting | wait p50 | wait p95 | wait max | burst drained | trickle wait p50 / p95 / max | tasks in the trickle | task-minutes (≈ $) | peak tasks | lost | jobs interrupted |');
rows.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const c of candidates) {
  const policy = derivePolicy(c.settings);
  const r = simulate({ ...ASSUMPTIONS, policy, arrivals, secondsPerImage: c.actualSecondsPerImage });
  const burstDrained = Math.max(...r.completedAtById.slice(0, burst).map((x) => x ?? Infinity)) - burstStart;
  const trickleWaits = r.waitById.slice(burst).filter((x): x is number => x !== undefined);
  rows.push(
    `| ${c.name} | ${fmt(percentile(r.waits, 50))} | ${fmt(percentile(r.waits, 95))} | ${fmt(percentile(r.waits, 100))} | ${fmt(burstDrained)} | ${fmt(percentile(trickleWaits, 50))} / ${fmt(percentile(trickleWaits, 95))} / ${fmt(percentile(trickleWaits, 100))} | ${trickleFleet(r)} | ${cost(r)} | ${r.peakTasks} | ${r.lost} | ${r.interruptedJobs + r.killedWithWork} |`,
  );
}

// Current rules against the previous ones, on the same day and on a steady load, with datapoint faults.
const policy = derivePolicy(DEFAULT_SCALING);
const steady = burstThenTrickle(STEADY_ARRIVALS).arrivals;
const steadyFault: DatapointFaults = { missingRunning: 0, late: 0, lateBySeconds: 0, missingRunningMinutes: [STEADY_MISSING_MINUTE] };
const comparisons: { name: string; arrivals: number[]; faults?: DatapointFaults }[] = [
  { name: 'burst → trickle → idle', arrivals },
  { name: 'burst → trickle → idle, 10% running datapoints missing, 10% late 2 min', arrivals, faults: DATAPOINT_FAULTS },
  { name: `steady 8 images/s for 30 min, the running datapoint of minute ${STEADY_MISSING_MINUTE} missing`, arrivals: steady, faults: steadyFault },
];
const compared: string[] = [];
compared.push('| day | rules | wait p95 | tasks in the trickle | task-minutes (≈ $) | lost | jobs interrupted (SIGTERM with a job in hand) | killed mid-job |');
compared.push('|---|---|---|---|---|---|---|---|');
for (const c of comparisons) {
  for (const rules of ['previous', 'current'] as RuleSet[]) {
    const r = simulate({ ...ASSUMPTIONS, policy, arrivals: c.arrivals, secondsPerImage: 1.0, rules, ...(c.faults ? { datapointFaults: c.faults } : {}) });
    const fleet = c.arrivals === arrivals ? trickleFleet(r) : '-';
    compared.push(`| ${c.name} | ${rules} | ${fmt(percentile(r.waits, 95))} | ${fleet} | ${cost(r)} | ${r.lost} | ${r.interruptedJobs} | ${r.killedWithWork} |`);
  }
}

process.stdout.write(
  [
    `Arrivals: ${arrivals.length} images: idle 10 min, 1000 in 60 s, then a Poisson trickle (mean 1 per 30 s) for 30 min, then idle.`,
    `Assumptions: task start ${ASSUMPTIONS.taskStartSeconds} s, metric delay ${ASSUMPTIONS.metricDelaySeconds} s, 1-minute datapoints, target tracking after 3 datapoints above target (scale-in after 15 below 90% of it), stop timeout ${ASSUMPTIONS.stopTimeoutSeconds} s, receive batches of ${ASSUMPTIONS.batchSize}, task scale-in protection while messages are held.`,
    '',
    ...rows,
    '',
    'Current rules against the previous ones (target tracking scale-out only, cold start ExactCapacity on FILL(running, 0) == 0, no task protection):',
    '',
    ...compared,
    '',
  ].join('\n'),
);
