import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { BUNDLE_ENV, BUNDLE_NODE_FLAGS } from '../build/cli-bundle.js';
import { repoRoot } from '../core/paths.js';
import { peakRssKiB } from '../core/process-memory.js';

/**
 * `blipline worker` as a real child process (the Node that runs this process), observed through what
 * it prints on stdout: pino JSON log lines and CloudWatch EMF metric lines. Used by `npm run load`
 * and the fault suite (test/faults, through test/support/worker-process.ts).
 */


/** One stdout line of the worker, parsed (non-JSON lines are kept as `{ msg: text }`). */
export type WorkerLine = Record<string, unknown> & { msg?: string; level?: string };

const emfSchema = z.object({ _aws: z.object({ CloudWatchMetrics: z.array(z.object({ Metrics: z.array(z.object({ Name: z.string() })) })) }) }).loose();

export interface WorkerProcessOptions {
  /** The stack's variables (`stack.env()`) plus any BLIPLINE_* overrides. */
  env: Record<string, string>;
  /** Captioning model dir or Hub id (BLIPLINE_MODEL). */
  model: string;
  /** VQA model (BLIPLINE_VQA_MODEL); absent for none. */
  vqaModel?: string;
  /** @default 'debug' (the fault tests watch for `model batch started`) */
  logLevel?: string;
  /** Echo the child's output to this process's stderr (debugging). */
  echo?: boolean;
  /**
   * A bundled CLI (services/build/cli-bundle.ts) to run on plain Node, as the worker image does.
   * @default bin/blipline.mjs, the TypeScript sources through tsx (what the tests exercise)
   */
  bundle?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A worker process started by `spawnWorker`. */
export class WorkerProcess {
  readonly lines: WorkerLine[] = [];
  readonly stderr: string[] = [];
  /** Resolves on the worker's `worker started` line; rejects if the process exits first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<ExitInfo>;
  private readonly waiters = new Set<{ test: (line: WorkerLine) => boolean; resolve: (line: WorkerLine) => void }>();
  private exitInfo: ExitInfo | undefined;
  private peakRssKiB = 0;
  private readonly rssTimer: NodeJS.Timeout;

  constructor(private readonly child: ChildProcess, echo: boolean) {
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      if (echo) process.stderr.write(`[worker ${child.pid}] ${text}\n`);
      let line: WorkerLine;
      try {
        const parsed: unknown = JSON.parse(text);
        line = typeof parsed === 'object' && parsed !== null ? (parsed as WorkerLine) : { msg: text };
      } catch {
        line = { msg: text };
      }
      this.lines.push(line);
      for (const waiter of [...this.waiters]) {
        if (waiter.test(line)) {
          this.waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    });
    createInterface({ input: child.stderr! }).on('line', (text) => {
      if (echo) process.stderr.write(`[worker ${child.pid} stderr] ${text}\n`);
      this.stderr.push(text);
    });
    this.ready = Promise.race([
      this.waitForLine((l) => l.msg === 'worker started', 0).then(() => undefined),
      this.exited.then((exit) => {
        throw new Error(`the worker exited before it was ready (${JSON.stringify(exit)}): ${this.stderr.slice(-20).join('\n')}`);
      }),
    ]);
    this.ready.catch(() => undefined);
    this.rssTimer = setInterval(() => this.sampleRss(), 250);
    this.rssTimer.unref();
    void this.exited.then(() => clearInterval(this.rssTimer));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Resolves with the first line (already printed or future) that matches; 0 = no timeout. */
  waitForLine(test: (line: WorkerLine) => boolean, timeoutMs = 60_000, what = 'a worker log line'): Promise<WorkerLine> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve };
      this.waiters.add(waiter);
      if (timeoutMs > 0) {
        setTimeout(() => {
          if (!this.waiters.delete(waiter)) return;
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines:\n${this.lines.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`));
        }, timeoutMs).unref();
      }
    });
  }

  /** Lines logged with this message. */
  logged(msg: string): WorkerLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /** Sum of one metric over the EMF lines printed so far (e.g. `Inferences`), optionally of one dimension value. */
  metric(name: string, dimensions: Record<string, string> = {}): number {
    let total = 0;
    for (const line of this.lines) {
      if (!emfSchema.safeParse(line).success) continue;
      if (!Object.entries(dimensions).every(([k, v]) => line[k] === v)) continue;
      const value = line[name];
      if (typeof value === 'number') total += value;
    }
    return total;
  }

  /** Images that went through the model (the worker's `Inferences` EMF metric). */
  inferences(): number {
    return this.metric('Inferences');
  }

  /** Peak resident set size seen so far (VmHWM of /proc/<pid>/status, Linux). */
  peakRssMiB(): number {
    this.sampleRss();
    return Math.round((this.peakRssKiB / 1024) * 10) / 10;
  }

  private sampleRss(): void {
    if (this.exitInfo) return;
    const hwm = peakRssKiB(this.pid);
    if (hwm !== undefined) this.peakRssKiB = Math.max(this.peakRssKiB, hwm);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exitInfo) this.child.kill(signal);
  }

  /** SIGKILL, then waits for the exit. */
  async kill(): Promise<ExitInfo> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (graceful stop), then waits up to `timeoutMs` before SIGKILL. */
  async stop(timeoutMs = 30_000): Promise<ExitInfo> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Starts `node bin/blipline.mjs worker` (or the given bundle) with the given environment. */
export function spawnWorker(options: WorkerProcessOptions): WorkerProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const vqa = options.vqaModel;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...(options.bundle ? BUNDLE_ENV : {}),
    ...Object.fromEntries(
      // LD_PRELOAD: `npm run load -- --kernels avx2` (services/bench/isa) applies to the worker too
      ['BLIPLINE_CACHE_DIR', 'BLIPLINE_PRECISION', 'BLIPLINE_DECODER_ROWS', 'LD_PRELOAD'].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
    ),
    ...options.env,
    BLIPLINE_MODEL: options.model,
    ...(vqa ? { BLIPLINE_VQA_MODEL: vqa } : {}),
    LOG_LEVEL: options.logLevel ?? 'debug',
  };
  const entry = options.bundle ? [...BUNDLE_NODE_FLAGS, options.bundle] : [path.join(repoRoot, 'bin/blipline.mjs')];
  const child = spawn(process.execPath, [...entry, 'worker'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new WorkerProcess(child, options.echo ?? false);
}
