import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { redisAnswers, SHARED_REDIS_URL } from './redis.js';

const run = promisify(execFile);

/** What the local stack needs from the machine, checked before anything starts. */
export interface Prerequisites {
  /** Missing pieces the stack cannot run without: one line each, saying what to install. */
  missing: string[];
  /** Missing pieces it runs without: one line each, saying what is then off. */
  optional: string[];
}

/** The major version `java -version` reports (it prints to stderr: `openjdk version "17.0.9" ...`), or undefined. */
async function javaMajor(): Promise<number | undefined> {
  try {
    const { stdout, stderr } = await run('java', ['-version'], { timeout: 10_000 });
    const match = /version "(\d+)(?:\.(\d+))?/.exec(`${stderr}${stdout}`);
    if (!match) return undefined;
    const first = Number(match[1]);
    return first === 1 ? Number(match[2]) : first; // "1.8.0" is Java 8
  } catch {
    return undefined;
  }
}

async function hasProgram(name: string, args: string[]): Promise<boolean> {
  try {
    await run(name, args, { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Java 17+ for DynamoDB Local (needed); a Redis (the shared one or `redis-server`) for the cache (optional). */
export async function checkPrerequisites(): Promise<Prerequisites> {
  const missing: string[] = [];
  const optional: string[] = [];
  const java = await javaMajor();
  if (java === undefined || java < 17) {
    missing.push(
      `Java 17 or newer is needed for DynamoDB Local (${java === undefined ? 'no java on the PATH' : `found Java ${java}`}): ` +
        'Debian/Ubuntu `sudo apt-get install openjdk-17-jre-headless`, macOS `brew install openjdk@17`',
    );
  }
  if (!(await redisAnswers(SHARED_REDIS_URL)) && !(await hasProgram('redis-server', ['--version']))) {
    optional.push(
      'no Redis at 127.0.0.1:6379 and no redis-server: blipline runs with its cache off (every read goes to DynamoDB); ' +
        'Debian/Ubuntu `sudo apt-get install redis-server`, macOS `brew install redis`',
    );
  }
  return { missing, optional };
}
