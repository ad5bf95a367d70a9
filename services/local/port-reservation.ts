import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LOCALHOST } from './net.js';

/**
 * Ports for children that cannot listen on port 0 and report the port back (redis-server treats
 * `--port 0` as "no TCP"; DynamoDB Local refuses it). Probing a free port and releasing it races with
 * every other process picking ports at the same time, and a child that loses the race fails to bind
 * while the winner answers on its port, so "the port answers" would wrongly report our child ready.
 *
 * A reservation closes both holes:
 * - the port is drawn below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), where
 *   listeners on port 0 and outgoing connections never land;
 * - it is claimed with an exclusive lock file (`<tmp>/blipline-ports/<port>.lock`, holding the pid),
 *   so parallel test files and stacks never pick the same one; a lock whose process is gone is stale;
 * - nothing may listen on it when it is claimed (checked by binding it once).
 * The reservation lasts until `release()`, across restarts of the child on the same port (Redis
 * outages), so no other stack can take the port while the child is down.
 */

export interface PortReservation {
  readonly port: number;
  /** Frees the port for other stacks; idempotent. */
  release(): Promise<void>;
}

export const PORT_LOCK_DIR = path.join(os.tmpdir(), 'blipline-ports');
export const LOWEST_PORT = 10_000;
const ATTEMPTS = 50;

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
export function ephemeralRangeStart(read: () => string = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')): number {
  try {
    const first = Number.parseInt(read().trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(first) && first > LOWEST_PORT + 1_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock file of `port`, removing a stale one (its process is gone); false when another process holds it. */
async function lock(file: string): Promise<boolean> {
  for (let tries = 0; tries < 2; tries += 1) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      // a lock without a pid is being written right now, unless it is old (its writer died mid-way)
      const writing = !Number.isInteger(owner) && Date.now() - (await stat(file).catch(() => ({ mtimeMs: 0 }))).mtimeMs < 10_000;
      if (writing || (Number.isInteger(owner) && processAlive(owner))) return false;
      await rm(file, { force: true });
    }
  }
  return false;
}

/** Whether this process can bind 127.0.0.1:port right now (nobody listens there). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, LOCALHOST, () => server.close(() => resolve(true)));
  });
}

/** Reserves a port below the ephemeral range that no other stack holds and nothing listens on. */
export async function reservePort(random: () => number = Math.random): Promise<PortReservation> {
  await mkdir(PORT_LOCK_DIR, { recursive: true });
  const highest = ephemeralRangeStart() - 1;
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const port = LOWEST_PORT + Math.floor(random() * (highest - LOWEST_PORT + 1));
    const file = path.join(PORT_LOCK_DIR, `${port}.lock`);
    if (!(await lock(file))) continue;
    if (await bindable(port)) {
      let released = false;
      return {
        port,
        async release() {
          if (released) return;
          released = true;
          await rm(file, { force: true });
        },
      };
    }
    await rm(file, { force: true });
  }
  throw new Error(`no free port between ${LOWEST_PORT} and ${highest} after ${ATTEMPTS} attempts (locks in ${PORT_LOCK_DIR})`);
}
