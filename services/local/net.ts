import { readdir, readFile, readlink } from 'node:fs/promises';
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
 * Polls until host:port accepts connections (and, with `ownerPid`, the listener is that process).
 * Rejects when `deadlineMs` passes or when `aborted()` reports a reason (e.g. the child process exited).
 */
export async function waitForPort(
  port: number,
  options: { deadlineMs: number; aborted?: () => string | undefined; host?: string; ownerPid?: number },
): Promise<void> {
  const until = Date.now() + options.deadlineMs;
  for (;;) {
    const reason = options.aborted?.();
    if (reason !== undefined) throw new Error(reason);
    // with `ownerPid`, only that process listening counts (where /proc can tell)
    if ((await portAnswers(port, options.host)) && (options.ownerPid === undefined || (await portOwnedBy(port, options.ownerPid)) !== false)) return;
    if (Date.now() > until) throw new Error(`port ${port} did not answer within ${options.deadlineMs} ms`);
    await sleep(50);
  }
}

/**
 * Inodes of the sockets that would take a connection to 127.0.0.1:`port`: IPv4 listeners on 127.0.0.1 or
 * the wildcard, else IPv6 ones (wildcard, mapped 127.0.0.1); from /proc/net, undefined without /proc.
 */
async function listeningInodes(port: number): Promise<Set<string> | undefined> {
  const [v4, v6] = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((file) => readFile(file, 'utf8').catch(() => undefined)));
  if (v4 === undefined && v6 === undefined) return undefined;
  const listeners = (table: string | undefined, addresses: readonly string[]): Set<string> => {
    const inodes = new Set<string>();
    for (const line of (table ?? '').split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const [address, hexPort] = (fields[1] ?? '').split(':');
      if (fields[3] !== '0A' || !fields[9] || !addresses.includes(address ?? '')) continue; // 0A: LISTEN
      if (Number.parseInt(hexPort ?? '', 16) === port) inodes.add(fields[9]);
    }
    return inodes;
  };
  const ipv4 = listeners(v4, ['0100007F', '00000000']);
  return ipv4.size > 0 ? ipv4 : listeners(v6, ['00000000000000000000000000000000', '0000000000000000FFFF00000100007F']);
}

/**
 * Whether the socket listening on `port` belongs to process `pid` (so a child's port is answered by
 * the child, not by another program that took it); undefined where /proc cannot tell (not Linux).
 */
export async function portOwnedBy(port: number, pid: number): Promise<boolean | undefined> {
  const inodes = await listeningInodes(port);
  if (inodes === undefined) return undefined;
  if (inodes.size === 0) return false;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => undefined);
  if (fds === undefined) return undefined;
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.some((target) => inodes.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? ''));
}
