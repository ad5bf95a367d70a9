import { coldStartTasks, type ScalingPolicy, targetTrackingScaleInTasks, targetTrackingTasks } from './policy.js';

/**
 * The scaling rules as CloudWatch alarms and Application Auto Scaling see them, evaluated once a minute.
 *
 * - 'current': the stack's rules (policy.ts): target tracking both ways, the cold-start rule adds tasks
 *   (ChangeInCapacity), the idle rule; ECS honours task scale-in protection.
 * - 'previous': the rules before task protection, kept to compare against: target tracking scale-out only, the
 *   cold-start rule sets an exact count (ExactCapacity) from `FILL(running, 0) == 0`, the idle rule.
 */
export type RuleSet = 'current' | 'previous';

/** One metric minute: SQS's numbers and Container Insights' running-task average, each published on its own. */
export interface MinuteDatapoint {
  /** The minute ends at `minute × period` seconds. */
  minute: number;
  visible: number;
  inFlight: number;
  running: number;
  /** When the SQS datapoint becomes readable (Infinity: never published). */
  sqsAvailableAt: number;
  /** When the Container Insights datapoint becomes readable (Infinity: never published). */
  ecsAvailableAt: number;
}

export interface ScalerState {
  desired: number;
  lastScaleOut: number;
  lastScaleIn: number;
  lastColdStart: number;
  /** Tasks the cold-start rule added since its cooldown began (Application Auto Scaling counts them against the next step). */
  coldStartAdded: number;
}

export const initialScalerState = (desired = 0): ScalerState => ({
  desired,
  lastScaleOut: Number.NEGATIVE_INFINITY,
  lastScaleIn: Number.NEGATIVE_INFINITY,
  lastColdStart: Number.NEGATIVE_INFINITY,
  coldStartAdded: 0,
});

/** A minute as an alarm reads it at time t: each source's values, or undefined when not (yet) published. */
interface Observed {
  sqs: { visible: number; inFlight: number } | undefined;
  running: number | undefined;
}

/**
 * Reads the last `count` minute slots an alarm evaluates at `t` (the newest one whose datapoints are due by
 * now); late or missing datapoints read as missing, exactly as CloudWatch evaluates them.
 */
function window(datapoints: readonly MinuteDatapoint[], newestMinute: number, count: number, t: number): Observed[] {
  const byMinute = new Map(datapoints.map((d) => [d.minute, d]));
  const slots: Observed[] = [];
  for (let m = newestMinute - count + 1; m <= newestMinute; m += 1) {
    const d = byMinute.get(m);
    slots.push({
      sqs: d && d.sqsAvailableAt <= t ? { visible: d.visible, inFlight: d.inFlight } : undefined,
      running: d && d.ecsAvailableAt <= t ? d.running : undefined,
    });
  }
  return slots;
}

/**
 * The metric target tracking follows. 'current': (visible + 1) ÷ running, so its proportional scale-in,
 * ceil(capacity × metric ÷ target), keeps one task while the queue is merely quiet; taking the last task away
 * is the idle rule's job (the queue empty for scaleInIdleMinutes). Without the +1 a trickle would bounce the
 * fleet between zero and a cold start. 'previous': visible ÷ running.
 */
const trackedMetric = (rules: RuleSet) => (o: Observed): number | undefined =>
  o.sqs !== undefined && o.running !== undefined && o.running > 0 ? (o.sqs.visible + (rules === 'current' ? 1 : 0)) / o.running : undefined;

/**
 * Target tracking's alarms treat missing data as missing: they judge the datapoints present in the window and
 * do nothing when none is.
 */
const allPresentAre = (values: (number | undefined)[], test: (v: number) => boolean): boolean => {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length > 0 && present.every(test);
};

/** The desired count after the alarms evaluated at `t` (seconds; a multiple of the metric period). */
export function evaluateRules(
  policy: ScalingPolicy,
  rules: RuleSet,
  datapoints: readonly MinuteDatapoint[],
  t: number,
  metricDelaySeconds: number,
  state: ScalerState,
): ScalerState {
  const period = policy.metricPeriodSeconds;
  const newestMinute = Math.floor((t - metricDelaySeconds) / period);
  const next = { ...state };
  const [latest] = window(datapoints, newestMinute, 1, t);

  // Rule 3: the queue empty (visible + in flight = 0) for N minutes; missing SQS data counts as empty.
  const idle = window(datapoints, newestMinute, policy.scaleInIdleMinutes, t).every((o) => o.sqs === undefined || o.sqs.visible + o.sqs.inFlight <= 0);
  if (idle) {
    next.desired = 0;
    return next;
  }

  // Rule 2: messages visible while no task runs; FILL(running, 0) reads a missing running datapoint as 0.
  const visible = latest?.sqs?.visible ?? 0;
  const noneRunning = (latest?.running ?? 0) === 0;
  if (visible > 0 && noneRunning) {
    const tier = coldStartTasks(policy, visible);
    if (rules === 'previous') {
      if (t - state.lastColdStart >= period) {
        next.desired = tier;
        next.lastColdStart = t;
      }
      return next;
    }
    const inCooldown = t - state.lastColdStart < policy.coldStartCooldownSeconds;
    const add = Math.max(0, tier - (inCooldown ? state.coldStartAdded : 0));
    if (add > 0) {
      next.desired = Math.min(policy.maxTasks, state.desired + add);
      next.coldStartAdded = (inCooldown ? state.coldStartAdded : 0) + add;
      if (!inCooldown) next.lastColdStart = t;
    }
    return next;
  }

  // Rule 1: target tracking on visible ÷ running.
  const backlogPerTask = trackedMetric(rules);
  const out = window(datapoints, newestMinute, policy.targetTrackingDatapoints, t).map(backlogPerTask);
  const current = out.filter((v) => v !== undefined).at(-1);
  if (allPresentAre(out, (v) => v > policy.targetBacklogPerTask) && current !== undefined && t - state.lastScaleOut >= policy.scaleOutCooldownSeconds) {
    const wanted = targetTrackingTasks(policy, state.desired, current);
    if (wanted > state.desired) {
      next.desired = wanted;
      next.lastScaleOut = t;
    }
    return next;
  }
  if (rules === 'previous') return next;
  const low = window(datapoints, newestMinute, policy.targetTrackingScaleInDatapoints, t).map(backlogPerTask);
  const threshold = policy.targetBacklogPerTask * policy.scaleInBelowRatio;
  if (allPresentAre(low, (v) => v < threshold) && current !== undefined && t - state.lastScaleIn >= policy.scaleInCooldownSeconds) {
    const wanted = targetTrackingScaleInTasks(policy, state.desired, current);
    if (wanted < state.desired) {
      next.desired = wanted;
      next.lastScaleIn = t;
    }
  }
  return next;
}
