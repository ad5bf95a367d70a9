import { describe, expect, it } from 'vitest';
import { PK, UPLOAD_PREFIX, decodeS3EventKey, imageForKey, isUuidV7, newId, normalizeSequencer, uploadKey } from '../../services/core/index.js';

const SECRET = 'a-test-secret-of-at-least-32-characters';
const idOf = (key: string, secret = SECRET) => imageForKey(key, secret).imageId;

describe('object keys', () => {
  it('puts API uploads under the upload prefix and reads the id back', () => {
    const id = newId();
    expect(isUuidV7(id)).toBe(true);
    expect(uploadKey(id)).toBe(`${UPLOAD_PREFIX}${id}`);
    expect(imageForKey(uploadKey(id), SECRET)).toEqual({ imageId: id, upload: true });
  });

  it('derives a stable id for dropped objects, different per key and per secret (outsiders cannot compute it)', () => {
    const a = idOf('photos/cat one.jpg');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).toBe(idOf('photos/cat one.jpg'));
    expect(a).not.toBe(idOf('photos/cat two.jpg'));
    expect(a).not.toBe(idOf('photos/cat one.jpg', 'another-secret-of-at-least-32-chars'));
    expect(imageForKey('uploads/not-a-uuid', SECRET).upload).toBe(false);
  });

  it('decodes S3 event keys: + is a space, then percent-decoding', () => {
    expect(decodeS3EventKey('photos/my+cat.jpg')).toBe('photos/my cat.jpg');
    expect(decodeS3EventKey('a%2Bb%25c.png')).toBe('a+b%c.png');
    expect(decodeS3EventKey('caf%C3%A9/%E7%8C%AB+1.jpg')).toBe('café/猫 1.jpg');
    expect(() => decodeS3EventKey('bad%E0%A4%A')).toThrow(/percent-encoding/);
  });

  it('normalises sequencers so string order is event order', () => {
    const shorter = normalizeSequencer('0055AED6DCD90281E5');
    const longer = normalizeSequencer('0055AED6DCD90281E50');
    expect(shorter).toBe(longer);
    expect(normalizeSequencer('0055AED6DCD90281E6') > normalizeSequencer('0055AED6DCD90281E5FF')).toBe(true);
    expect(() => normalizeSequencer('xyz')).toThrow();
  });

  it('names the table items', () => {
    expect(PK.caption('m', 'abc')).toBe('caption#m#abc');
    expect(PK.caption('m', 'abc', 'a picture of')).toMatch(/^caption#m#abc#prompt-[0-9a-f]{32}$/);
    expect(PK.object('x/y')).toBe('object#x/y');
  });
});
