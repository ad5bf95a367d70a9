/** SQS's largest visibility timeout, counted from the receive. */
export const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * How long a message whose job failed unexpectedly stays invisible before its next delivery:
 * visibility · 2^receiveCount (60 s → 2, 4, 8, 16 min), capped at what is left of SQS's 12 h from the receive
 * (less a minute of margin). Such failures are mostly infrastructure (DynamoDB/S3 down, throttled, network), so
 * the backoff must outlast an outage: with the defaults 5 receives span ~30 min, not ~30 s.
 */
export function retryDelaySeconds(receiveCount: number, visibilityTimeoutSeconds: number, heldSeconds: number): number {
  const room = Math.max(0, MAX_VISIBILITY_SECONDS - Math.ceil(heldSeconds) - 60);
  return Math.min(visibilityTimeoutSeconds * 2 ** Math.min(receiveCount, 20), room);
}

/** The pause after `failures` failed receives in a row: 1 s, 2 s, 4 s ... capped at 30 s. */
export function receiveRetryDelayMs(failures: number): number {
  return Math.min(1_000 * 2 ** (failures - 1), 30_000);
}

/** Waits `ms`, or less when `signal` aborts (it never rejects). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
