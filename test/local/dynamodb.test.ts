import { type AddressInfo, createServer, type Server } from 'node:net';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { startDynamoDb } from '../../services/local/dynamodb.js';
import { LOCALHOST, portOwnedBy } from '../../services/local/net.js';
import { reservePort } from '../../services/local/port-reservation.js';

// DynamoDB Local cannot listen on port 0 and prints nothing when ready: it counts as started only when
// the socket on its port is its own, so a program that took the port is never mistaken for it.

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

describe('portOwnedBy', () => {
  it('tells whose socket listens on a port', async () => {
    const server = createServer();
    const port = await listen(server, LOCALHOST);
    try {
      expect(await portOwnedBy(port, process.pid)).toBe(true);
      expect(await portOwnedBy(port, process.ppid)).toBe(false);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await portOwnedBy(port, process.pid)).toBe(false);
  });
});

describe('startDynamoDb on a port another program took', () => {
  it('sees its own bind failure and starts on another port', async () => {
    const squatter = createServer((socket) => socket.on('error', () => undefined).end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    const taken = await listen(squatter, '0.0.0.0');
    const ports: number[] = [];
    const reserve = async () => {
      // first the squatted port, as if the squatter ignored the reservations
      const reservation = ports.length === 0 ? { port: taken, release: async () => undefined } : await reservePort();
      ports.push(reservation.port);
      return reservation;
    };
    try {
      const dynamodb = await startDynamoDb({ region: 'us-east-1', credentials, table: 'ports', dbPath: undefined, reserve });
      const client = new DynamoDBClient({ region: 'us-east-1', credentials, endpoint: dynamodb.endpoint });
      try {
        expect(ports).toHaveLength(2);
        expect(ports[0]).toBe(taken);
        expect(dynamodb.endpoint).toBe(`http://${LOCALHOST}:${ports[1]}`);
        expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual(['ports']);
      } finally {
        client.destroy();
        await dynamodb.stop();
      }
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 120_000);
});
