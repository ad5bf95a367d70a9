import { ScalingSettingsError } from './errors.js';
import { coldStartTasks, type ScalingPolicy, targetTrackingTasks } from './policy.js';

/**
 * A discrete-time (1 s) model of the worker service under the scaling policy: SQS queue, ECS
 * tasks (start time, one image at a time, SIGTERM drain within the stop timeout), CloudWatch
 * datapoints (one per minute, published late), and the three scaling rules as the stack renders
 * them (see policy.ts). Pure and deterministic: same inputs, same result.
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

interface Datapoint {
  availableAt: number;
  visible: number;
  inFlight: number;
  running: number;
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
  const datapoints: Datapoint[] = [];
  const timeline: MinuteSample[] = [];
  let nextArrival = 0;
  let desired = 0;
  let killedWithWork = 0;
  let lastCompletion = 0;
  let idleAt = -1;
  let peakTasks = 0;
  let runningSecondsThisMinute = 0;
  let lastScaleOut = Number.NEGATIVE_INFINITY;
  let lastColdStart = Number.NEGATIVE_INFINITY;

  const active = () => tasks.filter((t) => t.state === 'starting' || t.state === 'running');
  const launch = (t: number) => tasks.push({ launchedAt: t, readyAt: t + options.taskStartSeconds, state: 'starting', job: null, held: [], drainDeadline: 0, stoppedAt: -1 });
  const stop = (task: Task, t: number) => {
    task.state = 'stopped';
    task.stoppedAt = t;
  };

  for (let i = 0; i < (options.initialTasks ?? 0); i += 1) {
    launch(0);
    const task = tasks[tasks.length - 1];
    if (task) task.readyAt = 0;
    desired += 1;
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

    // End of a metric minute: snapshot the queue, average the running count.
    if (t > 0 && t % period === 0) {
      const visible = queue.filter((m) => m.visibleAt <= t).length;
      const inFlight =
        tasks.reduce((n, x) => n + (x.job === null ? 0 : 1) + x.held.length, 0) + queue.filter((m) => m.visibleAt > t).length;
      datapoints.push({ availableAt: t + options.metricDelaySeconds, visible, inFlight, running: runningSecondsThisMinute / period });
      runningSecondsThisMinute = 0;

      // Alarms and policies evaluate once a minute on the datapoints published so far.
      const published = datapoints.filter((d) => d.availableAt <= t);
      const latest = published[published.length - 1];

      // Rule 3: scale in when the last N datapoints (missing counts as idle) are all empty.
      const window = published.slice(-policy.scaleInIdleMinutes);
      const idle = window.every((d) => d.visible + d.inFlight <= 0);
      if (idle && desired > 0) desired = 0;
      // Rule 2: cold start while no task runs and messages are visible.
      else if (latest && latest.running === 0 && latest.visible > 0 && t - lastColdStart >= period) {
        desired = coldStartTasks(policy, latest.visible);
        lastColdStart = t;
      } else {
        // Rule 1: target tracking on visible ÷ running, scale-out only.
        const recent = published.slice(-policy.targetTrackingDatapoints);
        const breaching =
          recent.length === policy.targetTrackingDatapoints &&
          recent.every((d) => d.running > 0 && d.visible / d.running > policy.targetBacklogPerTask);
        if (breaching && latest && t - lastScaleOut >= policy.scaleOutCooldownSeconds) {
          const wanted = targetTrackingTasks(policy, desired, latest.visible / latest.running);
          if (wanted > desired) {
            desired = wanted;
            lastScaleOut = t;
          }
        }
      }

      // ECS converges on the desired count: launch, or stop (starting tasks first, then running).
      let current = active();
      while (current.length < desired) {
        launch(t);
        current = active();
      }
      if (current.length > desired) {
        const byPreference = [...current].sort((a, b) => (a.state === b.state ? 0 : a.state === 'starting' ? -1 : 1));
        for (const task of byPreference.slice(0, current.length - desired)) {
          // SIGTERM: prefetched messages go back to the queue at once (visibility set to 0).
          for (const message of task.held.splice(0)) queue.push({ ...message, visibleAt: t });
          if (task.state === 'starting' || task.job === null) stop(task, t);
          else {
            task.state = 'draining';
            task.drainDeadline = t + options.stopTimeoutSeconds;
          }
        }
      }
      timeline.push({ minute: t / period, desired, running: runningNow, visible, inFlight });
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
