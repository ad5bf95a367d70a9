import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCALHOST = '127.0.0.1';

/** Whether something accepts TCP connections on host:port right now. */
export async function portAnswers(port: number, host = LOCALHOST, timeoutMs = 250): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Polls until host:port accepts connections. Rejects when `deadlineMs` passes or when `aborted()`
 * reports a reason (e.g. the child process exited).
 */
export async function waitForPort(
  port: number,
  options: { deadlineMs: number; aborted?: () => string | undefined; host?: string },
): Promise<void> {
  const until = Date.now() + options.deadlineMs;
  for (;;) {
    const reason = options.aborted?.();
    if (reason !== undefined) throw new Error(reason);
    if (await portAnswers(port, options.host)) return;
    if (Date.now() > until) throw new Error(`port ${port} did not answer within ${options.deadlineMs} ms`);
    await sleep(50);
  }
}
