import type { ArrivalPattern, DatapointFaults, SimulationOptions } from './simulate.js';

/** The day the README's table simulates: idle 10 min, 1,000 images in 60 s, a 30-min trickle, idle. */
export const README_ARRIVALS: ArrivalPattern = {
  idleBeforeSeconds: 600,
  burstImages: 1000,
  burstSeconds: 60,
  trickleEverySeconds: 30,
  trickleSeconds: 1800,
};

/** What the model assumes about AWS and the worker (the README lists these next to the table). */
export const MODEL_ASSUMPTIONS: Omit<SimulationOptions, 'policy' | 'arrivals' | 'secondsPerImage'> = {
  /** Fargate: ENI attach, ~1 GB image pull through the ECR endpoints, Node start, graph load. */
  taskStartSeconds: 90,
  /** SQS publishes one datapoint a minute; alarms see it about this much later. */
  metricDelaySeconds: 90,
  /** Fargate's maximum, what the stack sets. */
  stopTimeoutSeconds: 120,
  /** The stack's default (3 × the 30 s worst-case job). */
  visibilityTimeoutSeconds: 90,
  /** The worker receives up to 10 messages at once and works through them one by one. */
  batchSize: 10,
  horizonSeconds: 4 * 3600,
};

/** Late and missing datapoints the fault runs use: 10% of running-task datapoints never published, 10% two minutes late. */
export const DATAPOINT_FAULTS: DatapointFaults = { missingRunning: 0.1, late: 0.1, lateBySeconds: 120, seed: 7 };

/**
 * Steady load just under a full fleet's capacity (8 images/s for 30 min against 10 tasks × 1 image/s), so the
 * backlog is small while every task has a job in hand: where a running-task datapoint that never arrives mattered
 * most to the previous rules.
 */
export const STEADY_ARRIVALS: ArrivalPattern = { idleBeforeSeconds: 60, burstImages: 14_400, burstSeconds: 1800, trickleEverySeconds: 30, trickleSeconds: 0 };

/** The minute of STEADY_ARRIVALS whose running-task datapoint is dropped: the backlog is then 28 with 10 tasks busy. */
export const STEADY_MISSING_MINUTE = 22;
