import { readFileSync } from 'node:fs';

/**
 * Peak resident set size of a process in KiB (VmHWM of /proc/<pid>/status), or undefined where there
 * is no such file (not Linux, or the process is gone). Unlike `getrusage`'s maxrss it starts afresh
 * at exec, so a spawned child does not report its parent's resident set from before the exec.
 */
export function peakRssKiB(pid: number | 'self' = 'self'): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
