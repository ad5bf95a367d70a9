import os from 'node:os';
import { describe, expect, it } from 'vitest';
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
