import { describe, expect, it } from 'vitest';
import { ScalingSettingsError } from '../../services/scaling/errors.js';
import { coldStartTasks, DEFAULT_SCALING, derivePolicy, targetTrackingScaleInTasks, targetTrackingTasks } from '../../services/scaling/policy.js';
import { evaluateRules, initialScalerState, type MinuteDatapoint } from '../../services/scaling/rules.js';
import { DATAPOINT_FAULTS, MODEL_ASSUMPTIONS, README_ARRIVALS, STEADY_ARRIVALS, STEADY_MISSING_MINUTE } from '../../services/scaling/scenario.js';
import { burstThenTrickle, percentile, simulate, type SimulationOptions } from '../../services/scaling/simulate.js';

const { arrivals, burst } = burstThenTrickle(README_ARRIVALS);

function run(overrides: Partial<SimulationOptions> = {}) {
  return simulate({ ...MODEL_ASSUMPTIONS, policy: derivePolicy(DEFAULT_SCALING), arrivals, secondsPerImage: 1, ...overrides });
}

describe('scaling policy', () => {
  it('derives the backlog target from latency ÷ seconds per image', () => {
    expect(derivePolicy({ ...DEFAULT_SCALING, acceptableLatencySeconds: 60, secondsPerImage: 1.5 }).targetBacklogPerTask).toBe(40);
  });

  it('tiers the cold start 1, 2, 4, 8 ... up to maxTasks, covering every backlog', () => {
    const policy = derivePolicy({ ...DEFAULT_SCALING, maxTasks: 10, acceptableLatencySeconds: 60, secondsPerImage: 1 });
    expect(policy.coldStartSteps).toEqual([
      { lower: 0, upper: 60, tasks: 1 },
      { lower: 60, upper: 120, tasks: 2 },
      { lower: 120, upper: 240, tasks: 4 },
      { lower: 240, upper: 480, tasks: 8 },
      { lower: 480, tasks: 10 },
    ]);
    expect([0, 1, 59, 60, 239, 240, 480, 100_000].map((v) => coldStartTasks(policy, v))).toEqual([0, 1, 1, 2, 4, 8, 10, 10]);
    const single = derivePolicy({ ...DEFAULT_SCALING, coldStart: 'single' });
    expect(coldStartTasks(single, 100_000)).toBe(1);
  });

  it('target tracking scales out within maxTasks and scales in proportionally, never past either bound', () => {
    const policy = derivePolicy(DEFAULT_SCALING);
    expect(targetTrackingTasks(policy, 2, 600)).toBe(DEFAULT_SCALING.maxTasks);
    expect(targetTrackingTasks(policy, 4, 1)).toBe(4);
    expect(targetTrackingTasks(policy, 2, 90)).toBe(3);
    expect(targetTrackingScaleInTasks(policy, 10, 1 / 10)).toBe(1);
    expect(targetTrackingScaleInTasks(policy, 10, 30)).toBe(5);
    expect(targetTrackingScaleInTasks(policy, 4, 90)).toBe(4);
  });

  it('the cold-start rule adds tasks: a missing running-task datapoint never lowers a running fleet', () => {
    const policy = derivePolicy(DEFAULT_SCALING);
    // Ten tasks run; minute 5 has 100 visible messages but its running-task datapoint never arrived.
    const datapoints: MinuteDatapoint[] = [1, 2, 3, 4, 5].map((minute) => ({
      minute,
      visible: 100,
      inFlight: 100,
      running: 10,
      sqsAvailableAt: minute * 60 + 90,
      ecsAvailableAt: minute === 5 ? Infinity : minute * 60 + 90,
    }));
    const t = 5 * 60 + 90;
    const running = { ...initialScalerState(10), lastScaleOut: 0, lastScaleIn: 0 };
    expect(evaluateRules(policy, 'previous', datapoints, t, 90, running).desired).toBe(coldStartTasks(policy, 100));
    expect(coldStartTasks(policy, 100)).toBeLessThan(10);
    expect(evaluateRules(policy, 'current', datapoints, t, 90, running).desired).toBe(10);
    // From zero it starts the backlog's tier once; while those tasks start (none running yet, still within the
    // rule's cooldown) the next evaluation adds nothing more.
    const idle = datapoints.map((d) => ({ ...d, running: 0 }));
    const cold = evaluateRules(policy, 'current', idle, t, 90, initialScalerState(0));
    expect(cold.desired).toBe(coldStartTasks(policy, 100));
    const starting = [...idle, { minute: 6, visible: 100, inFlight: 0, running: 0, sqsAvailableAt: 6 * 60 + 90, ecsAvailableAt: 6 * 60 + 90 }];
    expect(evaluateRules(policy, 'current', starting, t + 60, 90, cold).desired).toBe(cold.desired);
  });

  it('rejects settings with a message naming what to change', () => {
    expect(() => derivePolicy({ ...DEFAULT_SCALING, acceptableLatencySeconds: 0.5 })).toThrow(/raise acceptableLatency/);
    expect(() => derivePolicy({ ...DEFAULT_SCALING, maxTasks: 0 })).toThrow(ScalingSettingsError);
    expect(() => derivePolicy({ ...DEFAULT_SCALING, scaleInIdleMinutes: 2.5 })).toThrow(/whole minutes/);
  });
});

describe('scaling simulation', () => {
  const result = run();

  it('processes every image: none lost, none left over', () => {
    expect(result.arrived).toBe(arrivals.length);
    expect(result.processed).toBe(arrivals.length);
    expect(result.lost).toBe(0);
    expect(result.unfinished).toBe(0);
    expect(result.waitById).toHaveLength(arrivals.length);
    expect(result.waitById.every((w) => w !== undefined && w >= 0)).toBe(true);
  });

  it('never stops a task that has a job in hand', () => {
    expect(result.killedWithWork).toBe(0);
  });

  it('starts from zero on the burst, reaches maxTasks, and returns to zero after the idle window', () => {
    expect(result.timeline.slice(0, 9).map((m) => m.desired)).toEqual(Array(9).fill(0));
    expect(result.peakTasks).toBe(DEFAULT_SCALING.maxTasks);
    expect(result.idleAt).toBeGreaterThan(result.lastCompletion);
    const last = result.timeline[result.timeline.length - 1];
    expect(last?.desired).toBe(0);
    // Scale-in happened only after scaleInIdleMinutes of empty samples.
    const lastBusyMinute = Math.max(...result.timeline.filter((m) => m.visible + m.inFlight > 0).map((m) => m.minute));
    const scaledInMinute = result.timeline.find((m) => m.minute > lastBusyMinute && m.desired === 0)?.minute ?? Infinity;
    expect(scaledInMinute - lastBusyMinute).toBeGreaterThanOrEqual(DEFAULT_SCALING.scaleInIdleMinutes);
  });

  it('bills at least the work done and is deterministic', () => {
    const workMinutes = (arrivals.length * 1) / 60;
    expect(result.taskMinutes).toBeGreaterThan(workMinutes);
    const again = run();
    expect(again.waits).toEqual(result.waits);
    expect(again.taskMinutes).toBe(result.taskMinutes);
    expect(burst).toBe(1000);
  });

  it('tiered cold start drains the burst sooner than starting a single task', () => {
    const single = run({ policy: derivePolicy({ ...DEFAULT_SCALING, coldStart: 'single' }) });
    expect(single.lost).toBe(0);
    expect(percentile(result.waits, 95)).toBeLessThan(percentile(single.waits, 95));
  });

  it('never kills a job even when jobs outlast the stop timeout: scale-in waits for in-flight zero', () => {
    const slow = run({
      arrivals: burstThenTrickle({ idleBeforeSeconds: 60, burstImages: 30, burstSeconds: 10, trickleEverySeconds: 60, trickleSeconds: 0 }).arrivals,
      secondsPerImage: 200,
      stopTimeoutSeconds: 120,
      policy: derivePolicy({ ...DEFAULT_SCALING, secondsPerImage: 200, acceptableLatencySeconds: 400, scaleInIdleMinutes: 1 }),
      horizonSeconds: 6 * 3600,
    });
    expect(slow.lost).toBe(0);
    expect(slow.processed).toBe(30);
    expect(slow.killedWithWork).toBe(0);
  });

  it('keeps the invariants when tasks receive one message at a time too', () => {
    const batched = run({ batchSize: 1 });
    expect(batched.processed).toBe(arrivals.length);
    expect(batched.lost).toBe(0);
    expect(batched.unfinished).toBe(0);
    expect(batched.killedWithWork).toBe(0);
    expect(batched.idleAt).toBeGreaterThan(0);
  });

  it('runs fractional seconds per image back to back', () => {
    const fp32 = run({ secondsPerImage: 1.5, arrivals: [0, 0, 0, 0], initialTasks: 1, horizonSeconds: 3600, batchSize: 1 });
    expect(fp32.completedAtById).toEqual([1.5, 3, 4.5, 6]);
  });

  it('percentile uses the nearest rank', () => {
    expect(percentile([1], 50)).toBe(1);
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 100)).toBe(5);
    expect(percentile([], 95)).toBe(0);
  });
});

describe('scale-in with task protection, against the previous rules', () => {
  // From ten minutes after the burst (drained by then) to the trickle's end.
  const trickleStart = Math.ceil((README_ARRIVALS.idleBeforeSeconds + README_ARRIVALS.burstSeconds) / 60) + 10;
  const trickleEnd = Math.floor((README_ARRIVALS.idleBeforeSeconds + README_ARRIVALS.burstSeconds + README_ARRIVALS.trickleSeconds) / 60);
  const runningInTrickle = (r: ReturnType<typeof run>) => r.timeline.filter((m) => m.minute >= trickleStart && m.minute <= trickleEnd).map((m) => m.running);

  it('burst → trickle → idle: the fleet shrinks during the trickle, no job interrupted, fewer task-minutes', () => {
    const current = run();
    const previous = run({ rules: 'previous' });
    const currentFleet = runningInTrickle(current);
    const previousFleet = runningInTrickle(previous);
    expect(currentFleet.length).toBeGreaterThan(20);
    expect(Math.max(...currentFleet)).toBe(DEFAULT_SCALING.maxTasks);
    expect(currentFleet.at(-1)).toBeLessThanOrEqual(2);
    expect(Math.min(...previousFleet)).toBe(DEFAULT_SCALING.maxTasks);
    for (const r of [current, previous]) {
      expect(r.processed).toBe(arrivals.length);
      expect(r.lost).toBe(0);
      expect(r.killedWithWork).toBe(0);
    }
    expect(current.interruptedJobs).toBe(0);
    expect(current.taskMinutes).toBeLessThan(previous.taskMinutes * 0.75);
    // The trickle is served as well as before.
    const trickleWaits = (r: ReturnType<typeof run>) => r.waitById.slice(burst).filter((w): w is number => w !== undefined);
    expect(percentile(trickleWaits(current), 95)).toBeLessThanOrEqual(percentile(trickleWaits(previous), 95));
  });

  it('late and missing datapoints: nothing lost or interrupted, the fleet still shrinks and returns to zero', () => {
    const faulty = run({ datapointFaults: DATAPOINT_FAULTS });
    expect(faulty.processed).toBe(arrivals.length);
    expect(faulty.lost).toBe(0);
    expect(faulty.interruptedJobs).toBe(0);
    expect(faulty.killedWithWork).toBe(0);
    expect(runningInTrickle(faulty).at(-1)).toBeLessThanOrEqual(2);
    expect(faulty.idleAt).toBeGreaterThan(faulty.lastCompletion);
  });

  it('a missing running-task datapoint under steady load: the previous rules cut the busy fleet, the current ones do not', () => {
    const steady = burstThenTrickle(STEADY_ARRIVALS).arrivals;
    const faults = { missingRunning: 0, late: 0, lateBySeconds: 0, missingRunningMinutes: [STEADY_MISSING_MINUTE] };
    const previous = run({ arrivals: steady, rules: 'previous', datapointFaults: faults });
    const current = run({ arrivals: steady, rules: 'current', datapointFaults: faults });
    expect(previous.interruptedJobs).toBeGreaterThan(0);
    const busy = (r: ReturnType<typeof run>) => r.timeline.filter((m) => m.visible + m.inFlight > 0 && m.minute > 5);
    expect(busy(previous).length).toBeGreaterThan(0);
    expect(Math.min(...busy(previous).map((m) => m.desired))).toBeLessThan(DEFAULT_SCALING.maxTasks);
    expect(busy(current).length).toBeGreaterThan(0);
    expect(Math.min(...busy(current).map((m) => m.desired))).toBe(DEFAULT_SCALING.maxTasks);
    expect(current.interruptedJobs).toBe(0);
    expect(current.lost).toBe(0);
    expect(current.processed).toBe(steady.length);
  });
});
