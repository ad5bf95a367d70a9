import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCALHOST } from '../../services/local/net.js';
import { ephemeralRangeStart, LOWEST_PORT, PORT_LOCK_DIR, type PortReservation, reservePort } from '../../services/local/port-reservation.js';

// Ports for children that cannot listen on port 0 (redis-server, DynamoDB Local): below the ephemeral
// range, claimed by lock file, never one something listens on.

const held: PortReservation[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((r) => r.release()));
});
const reserve = async (random?: () => number) => {
  const reservation = await reservePort(random);
  held.push(reservation);
  return reservation;
};

/** A `random` whose draws land on `ports`, in turn. */
function drawing(...ports: number[]): () => number {
  const span = ephemeralRangeStart() - LOWEST_PORT;
  let next = 0;
  return () => ((ports[next++ % ports.length] as number) - LOWEST_PORT + 0.5) / span;
}

/** A reservation's port that no reservation holds any more: another test's draw lands on it. */
async function releasedPort(): Promise<number> {
  const probe = await reservePort();
  await probe.release();
  return probe.port;
}

describe('reservePort', () => {
  it('reads the ephemeral range start, with 32768 when it cannot', () => {
    expect(ephemeralRangeStart(() => '32768\t60999\n')).toBe(32_768);
    expect(ephemeralRangeStart(() => '40000 50000')).toBe(40_000);
    expect(ephemeralRangeStart(() => 'garbage')).toBe(32_768);
    expect(
      ephemeralRangeStart(() => {
        throw new Error('no /proc');
      }),
    ).toBe(32_768);
  });

  it('hands parallel callers distinct ports below the ephemeral range, each locked with its pid', async () => {
    const reservations = await Promise.all(Array.from({ length: 12 }, () => reserve()));
    const ports = reservations.map((r) => r.port);
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(LOWEST_PORT);
      expect(port).toBeLessThan(ephemeralRangeStart());
      expect(await readFile(path.join(PORT_LOCK_DIR, `${port}.lock`), 'utf8')).toBe(String(process.pid));
    }
  });

  it('skips a port another live process holds, and takes over the lock of a process that is gone', async () => {
    const [taken, other] = [await releasedPort(), await releasedPort()];
    const lockFile = path.join(PORT_LOCK_DIR, `${taken}.lock`);
    // the parent of this process is alive: its lock stands
    await writeFile(lockFile, String(process.ppid));
    expect((await reserve(drawing(taken, other))).port).toBe(other);
    // a process that has exited: its lock is stale
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    await writeFile(lockFile, String(gone.pid));
    expect((await reserve(drawing(taken, other))).port).toBe(taken);
  });

  it('skips a port something already listens on', async () => {
    const [busy, other] = [await releasedPort(), await releasedPort()];
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(busy, LOCALHOST, resolve));
    try {
      expect((await reserve(drawing(busy, other))).port).toBe(other);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('frees the port on release, once', async () => {
    const reservation = await reservePort();
    await reservation.release();
    await reservation.release();
    expect((await reserve(drawing(reservation.port))).port).toBe(reservation.port);
  });
});
