import { createHash } from 'node:crypto';
import { idForObjectKey, isUuidV7 } from './ids.js';
import { InvalidInputError } from './errors.js';

/** Key prefix of objects uploaded through the API; also used by the CDK stack and the local S3->SQS bridge. */
export const UPLOAD_PREFIX = 'uploads/';

/** DynamoDB partition-key prefixes (one table, `pk` only). */
export const PK = {
  image: (imageId: string) => `image#${imageId}`,
  object: (objectKey: string) => `object#${objectKey}`,
  /** Caption by model and content hash; a caption made with a text prompt also keys on the prompt's hash. */
  caption: (model: string, sha256: string, prompt?: string) =>
    prompt === undefined || prompt === ''
      ? `caption#${model}#${sha256}`
      : `caption#${model}#${sha256}#prompt-${createHash('sha256').update(prompt).digest('hex').slice(0, 32)}`,
  question: (imageId: string, questionId: string) => `question#${imageId}#${questionId}`,
  /** A quota counter: `quota#<name>#<owner>#<window>` (TTL'd after its window). */
  quota: (name: string, owner: string, window: string) => `quota#${name}#${owner}#${window}`,
} as const;

/**
 * The model part of a caption's dedup key: the model name, its precision and the first 16 hex digits of
 * its checkpoint's sha256, so switching fp32/int8 or deploying a new revision of the same model never
 * serves captions of the old one (e.g. `Salesforce/blip-image-captioning-base@int8@3f2a...`).
 */
export function captionModelKey(name: string, precision: string, checkpointSha256: string): string {
  return `${name}@${precision}@${checkpointSha256.slice(0, 16)}`;
}

/** Object key for an API upload: the server-generated image id under UPLOAD_PREFIX, never a user path. */
export function uploadKey(imageId: string): string {
  return `${UPLOAD_PREFIX}${imageId}`;
}

/** The image id of an API upload's key (`uploads/<uuidv7>`), else undefined. */
export function uploadIdOfKey(key: string): string | undefined {
  if (!key.startsWith(UPLOAD_PREFIX)) return undefined;
  const rest = key.slice(UPLOAD_PREFIX.length);
  return isUuidV7(rest) ? rest : undefined;
}

/**
 * The image an object key belongs to: `uploads/<uuidv7>` keys are API uploads and carry their id; any other key
 * is a "dropped" object whose id is derived from the key with a secret (idForObjectKey), so every event for one
 * key lands on the same image record and outsiders cannot compute it.
 */
export function imageForKey(key: string, secret: string): { imageId: string; upload: boolean } {
  const uploadId = uploadIdOfKey(key);
  return uploadId !== undefined ? { imageId: uploadId, upload: true } : { imageId: idForObjectKey(key, secret), upload: false };
}

/**
 * Decodes an object key as S3 event notifications carry it: form-URL-encoded, so `+` is a space
 * and everything else is percent-encoded (a literal `+` arrives as `%2B`).
 */
export function decodeS3EventKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch (cause) {
    throw new InvalidInputError(`object key is not valid percent-encoding: ${JSON.stringify(raw)}`, { cause });
  }
}

/**
 * S3 sequencers are hex strings of varying length; the later event has the greater value once the
 * shorter one is right-padded with zeros. Normalising to a fixed width makes plain string
 * comparison (also inside DynamoDB conditions) correct.
 */
export const SEQUENCER_WIDTH = 32;

export function normalizeSequencer(sequencer: string): string {
  const hex = sequencer.trim().toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || hex.length > SEQUENCER_WIDTH) {
    throw new InvalidInputError(`invalid S3 sequencer ${JSON.stringify(sequencer)}`);
  }
  return hex.padEnd(SEQUENCER_WIDTH, '0');
}
