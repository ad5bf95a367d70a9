import { describe, expect, it } from 'vitest';
import { ScalingSettingsError } from '../../services/scaling/errors.js';
import { coldStartTasks, DEFAULT_SCALING, derivePolicy, targetTrackingTasks } from '../../services/scaling/policy.js';
import { MODEL_ASSUMPTIONS, README_ARRIVALS } from '../../services/scaling/scenario.js';
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

  it('target tracking only scales out and stays within maxTasks', () => {
    const policy = derivePolicy(DEFAULT_SCALING);
    expect(targetTrackingTasks(policy, 2, 600)).toBe(DEFAULT_SCALING.maxTasks);
    expect(targetTrackingTasks(policy, 4, 1)).toBe(4);
    expect(targetTrackingTasks(policy, 2, 90)).toBe(3);
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
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 100)).toBe(5);
    expect(percentile([], 95)).toBe(0);
  });
});
