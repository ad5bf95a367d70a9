import { afterAll, beforeAll } from 'vitest';
import { pino } from 'pino';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../services/local/index.js';

/**
 * Starts one local stack for the test file (beforeAll) and stops it afterwards (afterAll).
 * Returns a getter: call it inside tests/hooks, after beforeAll has run.
 *
 *   const stack = useLocalStack({ redis: 'own' });
 *   it('...', async () => { const env = stack().env(); ... });
 */
export function useLocalStack(options: LocalStackOptions = {}): () => LocalStack {
  let stack: LocalStack | undefined;
  beforeAll(async () => {
    stack = await startLocalStack({ logger: pino({ name: 'local-stack', level: 'warn' }), ...options });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);
  return () => {
    if (!stack) throw new Error('useLocalStack: the stack is not started yet (use it inside tests or hooks)');
    return stack;
  };
}
