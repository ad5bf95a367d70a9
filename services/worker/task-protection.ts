import type { Logger } from 'pino';
import { z } from 'zod';
import { errorMessage } from './errors.js';

/**
 * ECS task scale-in protection through the ECS agent's endpoint (`PUT $ECS_AGENT_URI/task-protection/v1/state`):
 * on while the worker holds messages, off when it is idle, so target tracking may scale the service in without
 * ever stopping a task with a job in hand (ECS picks unprotected tasks, and waits for protection to end or expire).
 *
 * The protection expires after `expiresInMinutes` (longer than a job); while the worker keeps holding messages it is
 * renewed at the start of a batch once less than `maxJobMinutes` of it is left, so every batch is covered to its
 * deadline. Off ECS (no ECS_AGENT_URI) it does nothing and says so once; an agent that fails or answers with an error
 * is logged once per kind of failure and never stops the worker (a scale-in then only costs a release, SIGTERM
 * still finishes the job in hand).
 */
export interface TaskProtectionOptions {
  /** `$ECS_AGENT_URI`; undefined off ECS. */
  agentUri: string | undefined;
  logger: Logger;
  /** The worker's job deadline (maxJobMs) in minutes, rounded up. */
  maxJobMinutes: number;
  /** Minutes a protection lasts unless renewed or cleared. @default maxJobMinutes + 5 */
  expiresInMinutes?: number;
  /** Time source, in ms. @default Date.now */
  now?: () => number;
  /** Longest wait for the agent. @default 5000 */
  timeoutMs?: number;
}

/** What the agent answers: `{protection}` on success, `{failure}` or `{error}` otherwise (ECS documentation). */
const agentResponseSchema = z
  .object({
    protection: z.object({ ProtectionEnabled: z.boolean() }).loose().optional(),
    failure: z.object({ Reason: z.string().optional(), Detail: z.string().nullish() }).loose().optional(),
    error: z.object({ Code: z.string().optional(), Message: z.string().optional() }).loose().optional(),
  })
  .refine((a) => a.protection !== undefined || a.failure !== undefined || a.error !== undefined, 'neither protection, failure nor error');

/** ECS accepts 1..2880 minutes (48 h). */
const MAX_EXPIRY_MINUTES = 2880;
const RETRY_AFTER_MS = 60_000;

/** What a receive loop tells the protection: whether it holds messages. */
export interface ProtectionHolder {
  sync(holding: boolean): Promise<void>;
}

export class TaskProtection {
  private readonly expiresInMinutes: number;
  private readonly now: () => number;
  /** What the agent last confirmed, and until when (ms) an enabled protection lasts. */
  private enabled = false;
  private expiresAt = 0;
  /** Calls are made one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** After an unreachable or garbled agent, no new request before this (ms): a black-holed agent must not slow every batch. */
  private retryAt = 0;
  private readonly loggedOnce = new Set<string>();

  constructor(private readonly options: TaskProtectionOptions) {
    this.expiresInMinutes = Math.min(MAX_EXPIRY_MINUTES, Math.max(1, Math.ceil(options.expiresInMinutes ?? options.maxJobMinutes + 5)));
    this.now = options.now ?? Date.now;
  }

  /** Whether the agent has confirmed protection (false off ECS). */
  get protectedNow(): boolean {
    return this.enabled;
  }

  /** Loops that hold messages now (see `holder`). */
  private readonly holders = new Set<string>();

  /** One receive loop's view: the protection is on while any loop holds messages. */
  holder(name: string): ProtectionHolder {
    return {
      sync: (holding) => {
        if (holding) this.holders.add(name);
        else this.holders.delete(name);
        return this.sync(this.holders.size > 0);
      },
    };
  }

  /**
   * Brings the protection in line with whether messages are held: on (or renewed when a batch might outlive it)
   * while holding, off when idle. Resolves when the agent has answered; never rejects.
   */
  sync(holding: boolean): Promise<void> {
    this.chain = this.chain.then(() => this.apply(holding));
    return this.chain;
  }

  private async apply(holding: boolean): Promise<void> {
    if (this.options.agentUri === undefined) {
      if (holding) this.once('no-agent', 'info', {}, 'ECS_AGENT_URI is not set (not on ECS): task scale-in protection is off');
      return;
    }
    const renewBy = this.expiresAt - this.options.maxJobMinutes * 60_000;
    if (holding === this.enabled && (!holding || this.now() < renewBy)) return;
    const requestedAt = this.now();
    if (requestedAt < this.retryAt) return;
    const body = holding ? { ProtectionEnabled: true, ExpiresInMinutes: this.expiresInMinutes } : { ProtectionEnabled: false };
    const url = `${this.options.agentUri.replace(/\/+$/, '')}/task-protection/v1/state`;
    let answer: z.infer<typeof agentResponseSchema>;
    try {
      const response = await fetch(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
      const parsed = agentResponseSchema.safeParse(await response.json().catch(() => undefined));
      if (!parsed.success) {
        this.retryAt = requestedAt + RETRY_AFTER_MS;
        this.once('bad-answer', 'warn', { status: response.status }, 'the ECS agent answered the task-protection request with something unexpected; protection unchanged');
        return;
      }
      answer = parsed.data;
    } catch (error) {
      this.retryAt = requestedAt + RETRY_AFTER_MS;
      this.once('unreachable', 'warn', { url, reason: errorMessage(error) }, 'cannot reach the ECS agent for task scale-in protection; the worker goes on without it');
      return;
    }
    if (answer.protection !== undefined) {
      this.enabled = answer.protection.ProtectionEnabled;
      this.expiresAt = this.enabled ? requestedAt + this.expiresInMinutes * 60_000 : 0;
      this.options.logger.debug({ taskProtection: this.enabled, expiresInMinutes: this.enabled ? this.expiresInMinutes : undefined }, 'task scale-in protection set');
      return;
    }
    const failure = answer.failure ?? answer.error;
    this.once(`refused-${holding}`, 'warn', { failure }, `the ECS agent refused to turn task scale-in protection ${holding ? 'on' : 'off'}`);
  }

  /** Logs `message` the first time `key` happens. */
  private once(key: string, level: 'info' | 'warn', fields: Record<string, unknown>, message: string): void {
    if (this.loggedOnce.has(key)) return;
    this.loggedOnce.add(key);
    this.options.logger[level](fields, message);
  }
}
