import { createHmac } from 'node:crypto';
import { stringify, v7 as uuidv7, validate, version } from 'uuid';

/** A new time-ordered id (UUIDv7) for images created through the API, questions and jobs. */
export function newId(): string {
  return uuidv7();
}

/**
 * The image id of an object dropped into the bucket under `key`: every event for one key lands on the same
 * record, and nobody without `secret` (BLIPLINE_OBJECT_ID_SECRET) can derive an id from a key. The first 16
 * bytes of HMAC-SHA256(secret, key), as a UUIDv8 (RFC 9562's version for custom layouts).
 */
export function idForObjectKey(key: string, secret: string): string {
  const bytes = createHmac('sha256', secret).update(key, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return stringify(bytes);
}

/** True when `value` is a UUID in canonical lower-case form. */
export function isUuid(value: string): boolean {
  return validate(value) && value === value.toLowerCase();
}

/** True when `value` is a canonical UUIDv7 (the ids the API hands out). */
export function isUuidV7(value: string): boolean {
  return isUuid(value) && version(value) === 7;
}
