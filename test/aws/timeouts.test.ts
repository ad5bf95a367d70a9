import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../services/aws/clients.js';
import { ObjectStore } from '../../services/aws/s3.js';

/** A TCP server that accepts connections and never answers: a hung S3 endpoint. */
let server: Server;
const sockets: Socket[] = [];
let endpoint: string;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  server = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('SDK client timeouts', () => {
  it('a call to an endpoint that never answers fails on the request timeout instead of hanging', async () => {
    const objects = new ObjectStore(createS3Client({ region: 'us-east-1', s3Endpoint: endpoint, sqsEndpoint: undefined, dynamodbEndpoint: undefined }, { requestTimeoutMs: 200 }), 'bucket');
    await expect(objects.head('some/key')).rejects.toThrow(/timed? ?out|timeout/i);
  });

  it('head and getBounded end when their abort signal fires', async () => {
    const objects = new ObjectStore(createS3Client({ region: 'us-east-1', s3Endpoint: endpoint, sqsEndpoint: undefined, dynamodbEndpoint: undefined }), 'bucket');
    await expect(objects.head('k', AbortSignal.timeout(200))).rejects.toThrow(/abort/i);
    await expect(objects.getBounded('k', 10, AbortSignal.timeout(200))).rejects.toThrow(/abort/i);
  });
});
