import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import S3rver from '@20minutes/s3rver';
import { LocalStackError } from './errors.js';
import { LOCALHOST } from './net.js';
import type { ObjectCreatedEventName } from './s3-event.js';

/** s3rver accepts only the key pairs it knows; this is its built-in one. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Lets browsers PUT/POST straight to the bucket from any origin (the upload page does). */
const CORS_CONFIGURATION = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

/** An object-created event seen by the emulator, with the raw (not URL-encoded) key. */
export interface ObjectCreated {
  eventName: ObjectCreatedEventName;
  bucket: string;
  key: string;
  size: number;
  /** Absent for copies (s3rver does not report it); the bridge looks it up. */
  eTag: string | undefined;
  eventTime: Date;
}

/** An object-removed event seen by the emulator (a DeleteObject), with the raw key. */
export interface ObjectRemoved {
  bucket: string;
  key: string;
  eventTime: Date;
}

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  onObjectCreated(listener: (event: ObjectCreated) => void): void;
  onObjectRemoved(listener: (event: ObjectRemoved) => void): void;
  stop(): Promise<void>;
}

const s3rverEventNames: Record<string, ObjectCreatedEventName> = {
  'ObjectCreated:Put': 'ObjectCreated:Put',
  'ObjectCreated:Post': 'ObjectCreated:Post',
  'ObjectCreated:Copy': 'ObjectCreated:Copy',
};

export async function startS3(options: { bucket: string; directory: string }): Promise<LocalS3> {
  const server = new S3rver({
    address: LOCALHOST,
    port: 0,
    silent: true,
    directory: options.directory,
    // Requests go to 127.0.0.1 path-style; never guess a bucket from the Host header.
    vhostBuckets: false,
    // SDK CreateBucket requests (PUT /bucket/) fail s3rver's signature check: create it here.
    configureBuckets: [{ name: options.bucket, configs: [CORS_CONFIGURATION] }],
  });
  let address;
  try {
    address = await server.run();
  } catch (cause) {
    throw new LocalStackError('s3', 'start_failed', `s3rver did not start: ${String(cause)}`, { cause });
  }
  const httpServer = server.httpServer;
  if (!httpServer) throw new LocalStackError('s3', 'start_failed', 's3rver started without an HTTP server');

  // s3rver reports CompleteMultipartUpload as ObjectCreated:Post. Remember which request an event
  // comes from (events are emitted inside the request's async context) to name it as S3 does.
  const requestContext = new AsyncLocalStorage<{ method: string | undefined; url: string | undefined }>();
  const [handler] = httpServer.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  if (!handler) throw new LocalStackError('s3', 'start_failed', 's3rver has no request handler');
  httpServer.removeListener('request', handler);
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) =>
    requestContext.run({ method: req.method, url: req.url }, () => handler(req, res)),
  );

  const listeners: Array<(event: ObjectCreated) => void> = [];
  const removedListeners: Array<(event: ObjectRemoved) => void> = [];
  server.on('event', (event) => {
    const request = requestContext.getStore();
    for (const record of event.Records) {
      if (record.eventName.startsWith('ObjectRemoved:')) {
        const removed: ObjectRemoved = { bucket: record.s3.bucket.name, key: record.s3.object.key, eventTime: new Date(record.eventTime) };
        for (const listener of removedListeners) listener(removed);
        continue;
      }
      let eventName = s3rverEventNames[record.eventName];
      if (eventName === undefined) continue;
      if (eventName === 'ObjectCreated:Post' && request?.method === 'POST' && /[?&]uploadId=/.test(request.url ?? '')) {
        eventName = 'ObjectCreated:CompleteMultipartUpload';
      }
      const created: ObjectCreated = {
        eventName,
        bucket: record.s3.bucket.name,
        key: record.s3.object.key,
        size: Number(record.s3.object.size ?? 0),
        eTag: record.s3.object.eTag?.replace(/"/g, ''),
        eventTime: new Date(record.eventTime),
      };
      for (const listener of listeners) listener(created);
    }
  });

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://${LOCALHOST}:${address.port}`,
    bucket: options.bucket,
    onObjectCreated: (listener) => listeners.push(listener),
    onObjectRemoved: (listener) => removedListeners.push(listener),
    stop() {
      stopped ??= (async () => {
        httpServer.closeAllConnections();
        await server.close();
      })();
      return stopped;
    },
  };
}
