import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * vCPUs this process may use: the CPUs it can run on, capped by a cgroup CPU quota when one is set
 * (containers on shared hosts see every host CPU but are throttled to their quota; running more
 * intra-op threads than the quota only adds contention).
 */

/** cgroup v2 `cpu.max` ("max 100000" or "200000 100000") -> vCPUs, or undefined without a quota. */
export function quotaFromCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === 'max' || !period) return undefined;
  const value = Number(quota) / Number(period);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` -> vCPUs, or undefined without a quota (-1). */
export function quotaFromCfs(quotaText: string, periodText: string): number | undefined {
  const quota = Number(quotaText.trim());
  const period = Number(periodText.trim());
  if (!(quota > 0) || !(period > 0)) return undefined;
  return quota / period;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function cgroupQuota(): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max');
  if (v2 !== undefined) return quotaFromCpuMax(v2);
  const quota = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us');
  const period = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us');
  return quota !== undefined && period !== undefined ? quotaFromCfs(quota, period) : undefined;
}

export function taskVcpus(): number {
  const visible = os.availableParallelism();
  const quota = cgroupQuota();
  return quota === undefined ? visible : Math.max(1, Math.min(visible, Math.ceil(quota)));
}
