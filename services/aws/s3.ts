import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ObjectMissingError, ObjectTooLargeError } from './errors.js';

export interface PresignedPut {
  method: 'PUT';
  url: string;
  /** Headers the client must send exactly: all are covered by the signature. */
  headers: { 'Content-Type': string; 'Content-Length': string; 'If-None-Match': '*' };
  expiresAt: Date;
}

export interface ObjectHead {
  contentLength: number;
  contentType: string | undefined;
  eTag: string | undefined;
}

function isNotFound(error: unknown): boolean {
  if (error instanceof NotFound || error instanceof NoSuchKey) return true;
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** Thin S3 adapter for one bucket. */
export class ObjectStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  /**
   * A presigned PUT whose signature covers Content-Type, Content-Length and `If-None-Match: *` as well as host:
   * S3 answers 403 to an upload with any other type or size, and 412 to a second PUT of the same URL (a
   * conditional write: the object exists). (Without `signableHeaders` a presigned PUT signs only `host`.)
   */
  async presignPut(key: string, contentType: string, contentLength: number, expiresInSeconds: number): Promise<PresignedPut> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType, ContentLength: contentLength, IfNoneMatch: '*' });
    const url = await getSignedUrl(this.client, command, {
      expiresIn: expiresInSeconds,
      signableHeaders: new Set(['content-type', 'content-length', 'if-none-match']),
    });
    return {
      method: 'PUT',
      url,
      headers: { 'Content-Type': contentType, 'Content-Length': String(contentLength), 'If-None-Match': '*' },
      expiresAt: new Date(Date.now() + expiresInSeconds * 1000),
    };
  }

  /** HeadObject; ObjectMissingError when the key does not exist. */
  async head(key: string, signal?: AbortSignal): Promise<ObjectHead> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return { contentLength: out.ContentLength ?? 0, contentType: out.ContentType, eTag: out.ETag };
    } catch (error) {
      if (isNotFound(error)) throw new ObjectMissingError(key, { cause: error });
      throw error;
    }
  }

  /**
   * Reads at most `maxBytes` of an object. Asks S3 for the first maxBytes+1 bytes only and stops
   * reading (destroying the stream) as soon as more than maxBytes arrive: ObjectTooLargeError.
   */
  async getBounded(key: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${maxBytes}` }), { abortSignal: signal });
    } catch (error) {
      if (isNotFound(error)) throw new ObjectMissingError(key, { cause: error });
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 416: a zero-byte object cannot satisfy a range; it is simply empty.
      if (status === 416) return new Uint8Array(0);
      throw error;
    }
    const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
    if (!body) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        body.destroy?.();
        throw new ObjectTooLargeError(key, maxBytes);
      }
      chunks.push(chunk);
    }
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return bytes;
  }

  async put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  /** Deletes an object; deleting a missing one is not an error (S3 answers 204 either way). */
  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
