import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** Every child the local stack started and has not stopped yet, across all stacks in this process. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: sending a signal is.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** A child process with the last lines of its output kept for error messages. */
export interface ManagedChild {
  readonly process: ChildProcess;
  /** Why the child is gone (exit code/signal or spawn error), undefined while it runs. */
  exitReason(): string | undefined;
  /** Last few KB of stdout+stderr. */
  outputTail(): string;
  /**
   * Resolves when the child prints a line matching `pattern` (readiness from the child's own words, not
   * from whoever answers on its port); rejects when it exits first or `deadlineMs` passes.
   */
  waitForOutput(pattern: RegExp, deadlineMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnManaged(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ManagedChild {
  installExitHook();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a Ctrl-C in the terminal reaches only Node, which stops the API and the
    // worker first (the job in hand still needs DynamoDB and SQS) and then the children.
    detached: true,
  });
  running.add(child);
  let tail = '';
  const watchers = new Set<() => void>();
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
    for (const watcher of watchers) watcher();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let reason: string | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => {
    reason = error.code === 'ENOENT' ? `ENOENT: '${command}' is not installed or not on PATH` : error.message;
    running.delete(child);
  });
  child.once('exit', (code, signal) => {
    reason ??= `exited with ${signal ?? `code ${code}`}`;
    running.delete(child);
    for (const watcher of watchers) watcher();
  });
  child.once('error', () => {
    for (const watcher of watchers) watcher();
  });

  return {
    process: child,
    exitReason: () => reason,
    outputTail: () => tail.trim(),
    waitForOutput(pattern, deadlineMs) {
      return new Promise<void>((resolve, reject) => {
        const finish = (error?: Error): void => {
          watchers.delete(check);
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        };
        const check = (): void => {
          if (pattern.test(tail)) finish();
          else if (reason !== undefined) finish(new Error(reason));
        };
        const timer = setTimeout(() => finish(new Error(`${command} printed nothing matching ${pattern} within ${deadlineMs} ms`)), deadlineMs);
        watchers.add(check);
        check();
      });
    },
    async stop(graceMs = 3000) {
      if (reason !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const result = await Promise.race([exited.then(() => 'exited' as const), sleep(graceMs, undefined, { ref: false }).then(() => 'timeout' as const)]);
      if (result === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
