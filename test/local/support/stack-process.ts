// A process that starts a local stack, prints its endpoints as one JSON line, then waits.
// argv[2]: 'signal' (wait for a signal; the stack's own handlers stop it) or
//          'exit' (call process.exit without stop(): the exit hook must kill the children).
import { pino } from 'pino';
import { startLocalStack } from '../../../services/local/index.js';

const mode = process.argv[2] === 'exit' ? 'exit' : 'signal';
const stack = await startLocalStack({ redis: 'own', logger: pino({ level: 'silent' }) });
process.stdout.write(`${JSON.stringify({ dynamodb: stack.dynamodb.endpoint, redis: stack.redisUrl })}\n`);
if (mode === 'exit') {
  process.stdin.once('data', () => process.exit(0));
  process.stdin.resume();
} else {
  setInterval(() => undefined, 1000);
}
