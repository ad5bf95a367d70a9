import os from 'node:os';
import { describe, expect, it } from 'vitest';
import type * as ort from 'onnxruntime-node';
import { sessionOptions } from '../../services/blip/runtime/sessions.js';
import { quotaFromCfs, quotaFromCpuMax, taskVcpus } from '../../services/blip/runtime/threads.js';

describe('task vCPUs', () => {
  it('reads cgroup v2 and v1 CPU quotas', () => {
    expect(quotaFromCpuMax('max 100000\n')).toBeUndefined();
    expect(quotaFromCpuMax('200000 100000\n')).toBe(2);
    expect(quotaFromCpuMax('50000 100000')).toBe(0.5);
    expect(quotaFromCfs('-1\n', '100000\n')).toBeUndefined();
    expect(quotaFromCfs('400000', '100000')).toBe(4);
  });

  it('never exceeds the CPUs the process can run on', () => {
    const vcpus = taskVcpus();
    expect(vcpus).toBeGreaterThanOrEqual(1);
    expect(vcpus).toBeLessThanOrEqual(os.availableParallelism());
  });
});

describe('session thread settings', () => {
  it('lets only sessions that ask for it spin-wait between operators', () => {
    const spinning = (options: ort.InferenceSession.SessionOptions): unknown => (options.extra as { session?: Record<string, string> }).session?.['intra_op.allow_spinning'];
    expect(spinning(sessionOptions({ threads: 2, spinWait: true }))).toBe('1');
    expect(spinning(sessionOptions({ threads: 2 }))).toBe('0');
    expect(sessionOptions({ threads: 3 }).intraOpNumThreads).toBe(3);
    expect(sessionOptions().intraOpNumThreads).toBe(taskVcpus());
  });
});
