/**
 * Polling delays: exponential backoff with "equal jitter", capped at a few seconds.
 *
 * delay(n) = d/2 + random·d/2, where d = min(capMs, baseMs·factor^n). Half of each delay is fixed, so
 * the page answers promptly; the random half spreads many cards (and many tabs) apart so they do not
 * hit the API in lockstep. The controller resets n to 0 whenever the record changes status.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly factor: number;
  readonly capMs: number;
}

export const POLL_BACKOFF: BackoffOptions = { baseMs: 500, factor: 1.6, capMs: 4000 };

export function backoffDelay(attempt: number, random: number, options: BackoffOptions = POLL_BACKOFF): number {
  const n = Math.max(0, Math.floor(attempt));
  const ceiling = Math.min(options.capMs, options.baseMs * options.factor ** n);
  const r = Math.min(1, Math.max(0, random));
  return Math.round(ceiling / 2 + (r * ceiling) / 2);
}

/** The delay to wait, honouring a server's Retry-After when it asks for longer (bounded by 30 s). */
export function nextPollDelay(
  attempt: number,
  random: number,
  retryAfterMs: number | null,
  options: BackoffOptions = POLL_BACKOFF,
): number {
  const delay = backoffDelay(attempt, random, options);
  if (retryAfterMs === null || !Number.isFinite(retryAfterMs)) return delay;
  return Math.max(delay, Math.min(30_000, retryAfterMs));
}

/** Consecutive failed polls before the card says the API is unreachable (about 15 s of trying). */
export const MAX_POLL_FAILURES = 6;
