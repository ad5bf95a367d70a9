import { v5 as uuidv5, v7 as uuidv7, validate, version } from 'uuid';

/** Namespace for image ids derived from object keys (UUIDv5 of the key). Never change it. */
export const OBJECT_KEY_NAMESPACE = '4f2c9c1e-6a57-4a8e-9d0b-2b8f1e7c5a31';

/** A new time-ordered id (UUIDv7) for images created through the API, questions and jobs. */
export function newId(): string {
  return uuidv7();
}

/** Deterministic image id for an object dropped into the bucket under `key`. */
export function idForObjectKey(key: string): string {
  return uuidv5(key, OBJECT_KEY_NAMESPACE);
}

/** True when `value` is a UUID in canonical lower-case form. */
export function isUuid(value: string): boolean {
  return validate(value) && value === value.toLowerCase();
}

/** True when `value` is a canonical UUIDv7 (the ids the API hands out). */
export function isUuidV7(value: string): boolean {
  return isUuid(value) && version(value) === 7;
}
