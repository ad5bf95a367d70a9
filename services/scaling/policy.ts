import { ScalingSettingsError } from './errors.js';

/**
 * The worker's scaling policy as plain data: the CDK stack renders it into Application Auto Scaling
 * policies and CloudWatch alarms, and the simulation (simulate.ts) runs the same numbers.
 *
 * Three rules act on the ECS service's desired count:
 * 1. Target tracking on backlog per task (visible messages ÷ running tasks), target
 *    `acceptableLatency ÷ secondsPerImage`, both ways: it scales in once the backlog has stayed below 90% of
 *    the target for 15 minutes (Application Auto Scaling's own low alarm), `scaleInCooldown` apart.
 * 2. A cold-start step rule: while no task runs and messages are visible, add tasks sized by the backlog
 *    (one, or more for a large backlog when `coldStart` is 'tiered'). It adds (ChangeInCapacity), so a late or
 *    missing running-task datapoint (which reads as "none run") can only add tasks, never lower a running fleet;
 *    its cooldown covers a task start, during which Application Auto Scaling counts what it already added.
 * 3. An idle rule: visible AND in-flight messages both zero for `scaleInIdleMinutes` consecutive minutes sets
 *    the desired count to 0.
 * No rule stops a task with a job in hand: the worker holds ECS task scale-in protection while it holds messages
 * (services/worker/task-protection.ts), and ECS stops only unprotected tasks when the desired count drops.
 */
export interface ScalingSettings {
  /** Seconds one task needs per image (measured on the task size the stack deploys). */
  secondsPerImage: number;
  /** Queue wait the backlog target aims for; target backlog per task = this ÷ secondsPerImage. */
  acceptableLatencySeconds: number;
  /** Most tasks the service may run. */
  maxTasks: number;
  /** 'single' starts one task from zero; 'tiered' sizes the first step from the backlog (1, 2, 4, ... tasks). */
  coldStart: 'single' | 'tiered';
  /** Seconds after a scale-out before target tracking scales out again on the same data. */
  scaleOutCooldownSeconds: number;
  /** Minutes of an empty queue (nothing visible, nothing in flight) before the service goes to 0. */
  scaleInIdleMinutes: number;
  /** Seconds between two target-tracking scale-ins. */
  scaleInCooldownSeconds: number;
}

/** One interval of the cold-start step rule: visible messages in [lower, upper) start `tasks` tasks. */
export interface ColdStartStep {
  lower: number;
  /** Exclusive; absent for the last, open-ended step. */
  upper?: number;
  tasks: number;
}

export interface ScalingPolicy extends ScalingSettings {
  /** Target value of the backlog-per-task target-tracking rule. */
  targetBacklogPerTask: number;
  coldStartSteps: ColdStartStep[];
  /** Period of every metric and alarm the policy uses. */
  metricPeriodSeconds: number;
  /** Consecutive breaching datapoints before target tracking scales out (Application Auto Scaling uses 3). */
  targetTrackingDatapoints: number;
  /** Consecutive datapoints below `scaleInBelowRatio` × target before target tracking scales in (it uses 15). */
  targetTrackingScaleInDatapoints: number;
  /** Target tracking scales in only below this fraction of the target (Application Auto Scaling: 0.9). */
  scaleInBelowRatio: number;
  /** Cooldown of the cold-start rule: a task start plus the metric delay, so one backlog starts its tasks once. */
  coldStartCooldownSeconds: number;
}

/**
 * The stack's defaults, chosen with `npm run simulate:scaling` (the README has the table). 1.0 s per image
 * rounds up the int8 caption time `npm run bench` measured on 2 vCPU (0.41-0.78 s per image).
 */
export const DEFAULT_SCALING: ScalingSettings = {
  secondsPerImage: 1.0,
  acceptableLatencySeconds: 60,
  maxTasks: 10,
  coldStart: 'tiered',
  scaleOutCooldownSeconds: 60,
  scaleInIdleMinutes: 10,
  scaleInCooldownSeconds: 300,
};

function check(condition: boolean, message: string): void {
  if (!condition) throw new ScalingSettingsError(message);
}

/** Validates the settings and derives the policy; errors name the setting and what to change. */
export function derivePolicy(settings: ScalingSettings): ScalingPolicy {
  const s = settings;
  check(
    Number.isFinite(s.secondsPerImage) && s.secondsPerImage > 0,
    `secondsPerImage must be a positive number of seconds (got ${s.secondsPerImage}); set it to the measured time per image of one task`,
  );
  check(
    Number.isFinite(s.acceptableLatencySeconds) && s.acceptableLatencySeconds >= s.secondsPerImage,
    `acceptableLatency (${s.acceptableLatencySeconds} s) must be at least secondsPerImage (${s.secondsPerImage} s); raise acceptableLatency or lower secondsPerImage`,
  );
  check(
    Number.isInteger(s.maxTasks) && s.maxTasks >= 1 && s.maxTasks <= 1000,
    `maxTasks must be an integer from 1 to 1000 (got ${s.maxTasks}); raise it to at least 1 or ask for a Fargate quota above 1000 first`,
  );
  check(
    s.coldStart === 'single' || s.coldStart === 'tiered',
    `coldStart must be 'single' or 'tiered' (got ${String(s.coldStart)})`,
  );
  check(
    Number.isInteger(s.scaleOutCooldownSeconds) && s.scaleOutCooldownSeconds >= 0 && s.scaleOutCooldownSeconds <= 3600,
    `scaleOutCooldown must be whole seconds from 0 to 3600 (got ${s.scaleOutCooldownSeconds})`,
  );
  check(
    Number.isInteger(s.scaleInIdleMinutes) && s.scaleInIdleMinutes >= 1 && s.scaleInIdleMinutes <= 1440,
    `scaleInIdle must be whole minutes from 1 to 1440 (got ${s.scaleInIdleMinutes}); CloudWatch alarms evaluate at most one day`,
  );
  check(
    Number.isInteger(s.scaleInCooldownSeconds) && s.scaleInCooldownSeconds >= 0 && s.scaleInCooldownSeconds <= 3600,
    `scaleInCooldown must be whole seconds from 0 to 3600 (got ${s.scaleInCooldownSeconds})`,
  );
  const targetBacklogPerTask = Math.max(1, Math.floor(s.acceptableLatencySeconds / s.secondsPerImage));
  return {
    ...s,
    targetBacklogPerTask,
    coldStartSteps: coldStartSteps(s.coldStart, targetBacklogPerTask, s.maxTasks),
    metricPeriodSeconds: 60,
    targetTrackingDatapoints: 3,
    targetTrackingScaleInDatapoints: 15,
    scaleInBelowRatio: 0.9,
    coldStartCooldownSeconds: 300,
  };
}

function coldStartSteps(mode: 'single' | 'tiered', target: number, maxTasks: number): ColdStartStep[] {
  if (mode === 'single' || maxTasks === 1) return [{ lower: 0, tasks: 1 }];
  const steps: ColdStartStep[] = [];
  let lower = 0;
  for (let tasks = 1; tasks < maxTasks; tasks *= 2) {
    steps.push({ lower, upper: tasks * target, tasks });
    lower = tasks * target;
  }
  steps.push({ lower, tasks: maxTasks });
  return steps;
}

/** Desired count the cold-start rule sets for `visible` messages (0 when nothing is visible). */
export function coldStartTasks(policy: ScalingPolicy, visible: number): number {
  if (visible <= 0) return 0;
  const step = policy.coldStartSteps.find((s) => visible >= s.lower && (s.upper === undefined || visible < s.upper));
  return step?.tasks ?? policy.maxTasks;
}

/**
 * Desired count Application Auto Scaling's target tracking asks for when it scales out: current capacity
 * scaled by metric ÷ target, rounded up, capped at maxTasks; never below the current capacity.
 */
export function targetTrackingTasks(policy: ScalingPolicy, currentCapacity: number, backlogPerTask: number): number {
  const wanted = Math.ceil((currentCapacity * backlogPerTask) / policy.targetBacklogPerTask);
  return Math.min(policy.maxTasks, Math.max(currentCapacity, wanted));
}

/** Desired count target tracking asks for when it scales in: the same proportion, never above the current capacity. */
export function targetTrackingScaleInTasks(policy: ScalingPolicy, currentCapacity: number, backlogPerTask: number): number {
  const wanted = Math.ceil((currentCapacity * backlogPerTask) / policy.targetBacklogPerTask);
  return Math.max(0, Math.min(currentCapacity, wanted));
}
