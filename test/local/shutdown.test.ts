import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { portAnswers } from '../../services/local/net.js';

// The emulators a stack started must not outlive the process, however it ends.
const script = fileURLToPath(new URL('./support/stack-process.ts', import.meta.url));

async function startStackProcess(mode: 'signal' | 'exit'): Promise<{ child: ChildProcess; ports: number[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  const endpoints = JSON.parse(line) as { dynamodb: string; redis: string };
  const ports = [Number(new URL(endpoints.dynamodb).port), Number(new URL(endpoints.redis).port)];
  return { child, ports };
}

async function answering(ports: number[]): Promise<boolean[]> {
  return Promise.all(ports.map((port) => portAnswers(port)));
}

/** A SIGKILLed JVM takes a moment to release its socket: poll until nothing answers (or give up). */
async function answeringAfterShutdown(ports: number[]): Promise<boolean[]> {
  let state = await answering(ports);
  for (let i = 0; i < 100 && state.some(Boolean); i++) {
    await sleep(100);
    state = await answering(ports);
  }
  return state;
}

describe('local stack shutdown', () => {
  it('stops DynamoDB Local and redis-server on SIGTERM and on process.exit', async () => {
    const [signalled, exiting] = await Promise.all([startStackProcess('signal'), startStackProcess('exit')]);
    expect(await answering([...signalled.ports, ...exiting.ports])).toEqual([true, true, true, true]);

    const signalExit = once(signalled.child, 'exit');
    signalled.child.kill('SIGTERM');
    const [, signal] = (await signalExit) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGTERM'); // stopped, then died of the signal as Node would have

    const exitExit = once(exiting.child, 'exit');
    exiting.child.stdin!.write('exit\n');
    const [code] = (await exitExit) as [number | null];
    expect(code).toBe(0);

    expect(await answeringAfterShutdown([...signalled.ports, ...exiting.ports])).toEqual([false, false, false, false]);
  });
});
