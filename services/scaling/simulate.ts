import { ScalingSettingsError } from './errors.js';
import type { ScalingPolicy } from './policy.js';
import { evaluateRules, initialScalerState, type MinuteDatapoint, type RuleSet } from './rules.js';

/**
 * A discrete-time (1 s) model of the worker service under the scaling policy: SQS queue, ECS
 * tasks (start time, one image at a time, SIGTERM drain within the stop timeout, task scale-in
 * protection while messages are held), CloudWatch datapoints (one per minute, published late, some
 * later still or never), and the scaling rules as the stack renders them (rules.ts, policy.ts).
 * Pure and deterministic: same inputs, same result.
 */
export interface SimulationOptions {
  policy: ScalingPolicy;
  /** Arrival times of images in seconds from the start, ascending. */
  arrivals: number[];
  /** Seconds one task actually takes per image (may differ from the policy's assumption). */
  secondsPerImage: number;
  /** Seconds from a desired-count increase until the new task polls (pull, start, model load). */
  taskStartSeconds: number;
  /** Seconds between the end of a metric minute and its datapoint being visible to alarms. */
  metricDelaySeconds: number;
  /** SIGTERM → SIGKILL grace of a stopping task (Fargate: at most 120 s). */
  stopTimeoutSeconds: number;
  /** Queue visibility timeout: a message whose task was killed reappears after it. */
  visibilityTimeoutSeconds: number;
  /**
   * Messages a task receives at once (the worker's receive batch); it works through them one at a
   * time, and on SIGTERM finishes the one in hand and releases the rest. @default 1
   */
  batchSize?: number;
  /** Give up after this many seconds even if work remains. */
  horizonSeconds: number;
  /** Tasks running at t = 0. @default 0 */
  initialTasks?: number;
  /** Which scaling rules run (rules.ts). @default 'current' */
  rules?: RuleSet;
  /**
   * Tasks hold ECS scale-in protection while they hold messages, so ECS stops only idle tasks when the
   * desired count drops. @default true with the 'current' rules, false with the 'previous' ones
   */
  taskProtection?: boolean;
  /** Datapoints that arrive later than `metricDelaySeconds`, or never (seeded, so repeatable). @default none */
  datapointFaults?: DatapointFaults;
}

export interface DatapointFaults {
  /** Chance that a minute's Container Insights running-task datapoint is never published. */
  missingRunning: number;
  /** Chance that a minute's datapoint (each source on its own) is published `lateBySeconds` later than usual. */
  late: number;
  lateBySeconds: number;
  seed?: number;
  /** Minutes whose running-task datapoint is never published, besides the random ones. */
  missingRunningMinutes?: number[];
}

export interface MinuteSample {
  minute: number;
  desired: number;
  running: number;
  visible: number;
  inFlight: number;
}

export interface SimulationResult {
  /** Per image, seconds from arrival to the start of its (first completed) processing. */
  waits: number[];
  /** Indexed like `arrivals`: wait and completion time of each processed image (undefined if unprocessed). */
  waitById: (number | undefined)[];
  completedAtById: (number | undefined)[];
  arrived: number;
  processed: number;
  /** Images neither processed nor still queued at the end: must be 0. */
  lost: number;
  /** Images still queued or in flight when the horizon ended. */
  unfinished: number;
  /** Tasks that received SIGKILL with a job in hand: must be 0 under the policy. */
  killedWithWork: number;
  /** Tasks told to stop (SIGTERM) while a job was in hand: 0 with task protection. */
  interruptedJobs: number;
  /** Billed task time (Fargate: per second, one-minute minimum per task) in minutes. */
  taskMinutes: number;
  peakTasks: number;
  /** Seconds at which the last image finished processing. */
  lastCompletion: number;
  /** Seconds at which the service was back at zero tasks (after the last completion), or -1. */
  idleAt: number;
  timeline: MinuteSample[];
}

interface Message {
  id: number;
  arrivedAt: number;
  /** Seconds at which it becomes visible (after a killed task's visibility timeout). */
  visibleAt: number;
}

type TaskState = 'starting' | 'running' | 'draining' | 'stopped';

interface Task {
  launchedAt: number;
  readyAt: number;
  state: TaskState;
  job: { message: Message; startedAt: number; doneAt: number } | null;
  /** Received but not yet started (in flight for SQS). */
  held: Message[];
  drainDeadline: number;
  stoppedAt: number;
}

function validate(o: SimulationOptions): void {
  const positive = (name: string, v: number) => {
    if (!Number.isFinite(v) || v <= 0) throw new ScalingSettingsError(`${name} must be a positive number (got ${v})`);
  };
  positive('secondsPerImage', o.secondsPerImage);
  positive('horizonSeconds', o.horizonSeconds);
  positive('stopTimeoutSeconds', o.stopTimeoutSeconds);
  positive('visibilityTimeoutSeconds', o.visibilityTimeoutSeconds);
  if (o.taskStartSeconds < 0 || o.metricDelaySeconds < 0) throw new ScalingSettingsError('taskStartSeconds and metricDelaySeconds must not be negative');
  for (let i = 1; i < o.arrivals.length; i += 1) {
    if ((o.arrivals[i] ?? 0) < (o.arrivals[i - 1] ?? 0)) throw new ScalingSettingsError('arrivals must be in ascending order');
  }
}

export function simulate(options: SimulationOptions): SimulationResult {
  validate(options);
  const { policy } = options;
  const period = policy.metricPeriodSeconds;
  const queue: Message[] = [];
  const tasks: Task[] = [];
  const firstWait = new Map<number, number>();
  const completed = new Set<number>();
  const completedAt = new Map<number, number>();
  const datapoints: MinuteDatapoint[] = [];
  const timeline: MinuteSample[] = [];
  const rules = options.rules ?? 'current';
  const protection = options.taskProtection ?? rules === 'current';
  const faults = options.datapointFaults;
  const faultRandom = mulberry32(faults?.seed ?? 7);
  let nextArrival = 0;
  let scaler = initialScalerState();
  let killedWithWork = 0;
  let interruptedJobs = 0;
  let lastCompletion = 0;
  let idleAt = -1;
  let peakTasks = 0;
  let runningSecondsThisMinute = 0;

  const active = () => tasks.filter((t) => t.state === 'starting' || t.state === 'running');
  const launch = (t: number) => tasks.push({ launchedAt: t, readyAt: t + options.taskStartSeconds, state: 'starting', job: null, held: [], drainDeadline: 0, stoppedAt: -1 });
  const stop = (task: Task, t: number) => {
    task.state = 'stopped';
    task.stoppedAt = t;
  };
  /** SIGTERM: prefetched messages go back to the queue at once (visibility 0); the job in hand is finished. */
  const terminate = (task: Task, t: number) => {
    for (const message of task.held.splice(0)) queue.push({ ...message, visibleAt: t });
    if (task.state === 'starting' || task.job === null) stop(task, t);
    else {
      interruptedJobs += 1;
      task.state = 'draining';
      task.drainDeadline = t + options.stopTimeoutSeconds;
    }
  };
  const isProtected = (task: Task) => task.state === 'running' && (task.job !== null || task.held.length > 0);
  /** ECS above the desired count: stops starting tasks first, then running ones (with protection: only idle ones). */
  const shrink = (t: number) => {
    const current = active();
    if (current.length <= scaler.desired) return;
    const candidates = [...current]
      .filter((task) => !protection || !isProtected(task))
      .sort((a, b) => (a.state === b.state ? 0 : a.state === 'starting' ? -1 : 1));
    for (const task of candidates.slice(0, current.length - scaler.desired)) terminate(task, t);
  };

  for (let i = 0; i < (options.initialTasks ?? 0); i += 1) {
    launch(0);
    const task = tasks[tasks.length - 1];
    if (task) task.readyAt = 0;
    scaler.desired += 1;
  }

  for (let t = 0; t <= options.horizonSeconds; t += 1) {
    // Arrivals.
    while (nextArrival < options.arrivals.length && (options.arrivals[nextArrival] ?? Infinity) <= t) {
      const at = options.arrivals[nextArrival] ?? t;
      queue.push({ id: nextArrival, arrivedAt: at, visibleAt: at });
      nextArrival += 1;
    }

    // Tasks: finish jobs (starting the next one at the exact finish time), become ready, drain or
    // get killed, receive work.
    const batchSize = options.batchSize ?? 1;
    const receive = (task: Task, at: number) => {
      while (task.held.length < batchSize) {
        const index = queue.findIndex((m) => m.visibleAt <= at);
        if (index < 0) break;
        const [message] = queue.splice(index, 1);
        if (message) task.held.push(message);
      }
    };
    const startNext = (task: Task, at: number) => {
      if (task.held.length === 0 && task.state === 'running') receive(task, at);
      const message = task.held.shift();
      task.job = message ? { message, startedAt: at, doneAt: at + options.secondsPerImage } : null;
    };
    for (const task of tasks) {
      if (task.state === 'stopped') continue;
      while (task.job && task.job.doneAt <= t) {
        const { message, startedAt, doneAt } = task.job;
        completed.add(message.id);
        if (!completedAt.has(message.id)) completedAt.set(message.id, doneAt);
        if (!firstWait.has(message.id)) firstWait.set(message.id, startedAt - message.arrivedAt);
        lastCompletion = Math.max(lastCompletion, doneAt);
        task.job = null;
        if (task.state === 'running') startNext(task, doneAt);
      }
      if (task.state === 'starting' && task.readyAt <= t) task.state = 'running';
      if (task.state === 'draining') {
        if (task.job === null) stop(task, t);
        else if (t >= task.drainDeadline) {
          killedWithWork += 1;
          queue.push({ ...task.job.message, visibleAt: t + options.visibilityTimeoutSeconds });
          task.job = null;
          stop(task, t);
        }
        continue;
      }
      if (task.state === 'running' && task.job === null) startNext(task, t);
    }

    const runningNow = tasks.filter((x) => x.state === 'running' || x.state === 'draining').length;
    runningSecondsThisMinute += runningNow;
    peakTasks = Math.max(peakTasks, tasks.filter((x) => x.state !== 'stopped').length);

    // With protection, ECS stops an excess task as soon as it is idle (not only when the desired count changes).
    if (protection && t % period !== 0) shrink(t);

    // End of a metric minute: snapshot the queue, average the running count.
    if (t > 0 && t % period === 0) {
      const visible = queue.filter((m) => m.visibleAt <= t).length;
      const inFlight =
        tasks.reduce((n, x) => n + (x.job === null ? 0 : 1) + x.held.length, 0) + queue.filter((m) => m.visibleAt > t).length;
      const due = t + options.metricDelaySeconds;
      const lateness = () => (faults && faultRandom() < faults.late ? faults.lateBySeconds : 0);
      const ecsMissing = faults !== undefined && (faultRandom() < faults.missingRunning || (faults.missingRunningMinutes ?? []).includes(t / period));
      datapoints.push({
        minute: t / period,
        visible,
        inFlight,
        running: runningSecondsThisMinute / period,
        sqsAvailableAt: due + lateness(),
        ecsAvailableAt: ecsMissing ? Infinity : due + lateness(),
      });
      runningSecondsThisMinute = 0;

      // Alarms and policies evaluate once a minute on the datapoints published so far.
      scaler = evaluateRules(policy, rules, datapoints, t, options.metricDelaySeconds, scaler);

      // ECS converges on the desired count: launch, or stop.
      while (active().length < scaler.desired) launch(t);
      shrink(t);
      timeline.push({ minute: t / period, desired: scaler.desired, running: runningNow, visible, inFlight });
    }

    const allArrived = nextArrival >= options.arrivals.length;
    const live = tasks.some((x) => x.state !== 'stopped');
    if (allArrived && queue.length === 0 && !live && t > 0) {
      idleAt = t;
      break;
    }
  }

  const end = idleAt >= 0 ? idleAt : options.horizonSeconds;
  const taskMinutes = tasks.reduce((sum, task) => {
    const stoppedAt = task.stoppedAt >= 0 ? task.stoppedAt : end;
    return sum + Math.max(60, stoppedAt - task.launchedAt) / 60;
  }, 0);
  const inSystem = queue.length + tasks.reduce((n, x) => n + (x.job === null ? 0 : 1) + x.held.length, 0);
  const arrived = nextArrival;
  return {
    waits: [...firstWait.values()],
    waitById: Array.from({ length: arrived }, (_, i) => firstWait.get(i)),
    completedAtById: Array.from({ length: arrived }, (_, i) => completedAt.get(i)),
    arrived,
    processed: completed.size,
    lost: arrived - completed.size - inSystem,
    unfinished: inSystem,
    killedWithWork,
    interruptedJobs,
    taskMinutes,
    peakTasks,
    lastCompletion,
    idleAt,
    timeline,
  };
}

/** Nearest-rank percentile (p in 0..100) of `values`; 0 for an empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same arrivals. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ArrivalPattern {
  idleBeforeSeconds: number;
  burstImages: number;
  burstSeconds: number;
  /** Mean seconds between trickle arrivals (exponential inter-arrival times). */
  trickleEverySeconds: number;
  trickleSeconds: number;
  seed?: number;
}

/**
 * The arrival pattern the README's table uses: idle, a burst spread evenly over burstSeconds, a
 * Poisson trickle (seeded, so repeatable), then nothing.
 */
export function burstThenTrickle(opts: ArrivalPattern): { arrivals: number[]; burst: number } {
  const arrivals: number[] = [];
  const start = opts.idleBeforeSeconds;
  for (let i = 0; i < opts.burstImages; i += 1) arrivals.push(start + Math.floor((i * opts.burstSeconds) / opts.burstImages));
  const random = mulberry32(opts.seed ?? 42);
  const trickleStart = start + opts.burstSeconds;
  let t = trickleStart;
  for (;;) {
    t += -Math.log(1 - random()) * opts.trickleEverySeconds;
    if (t > trickleStart + opts.trickleSeconds) break;
    arrivals.push(Math.floor(t));
  }
  return { arrivals, burst: opts.burstImages };
}
