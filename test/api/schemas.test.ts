import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from '../../services/api/rate-limit.js';
import { mediaType, sanitizeFilename } from '../../services/api/schemas.js';

describe('sanitizeFilename', () => {
  it('keeps only a clean last path segment', () => {
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFilename('C:\\Users\\me\\cat photo.JPG')).toBe('cat photo.JPG');
    expect(sanitizeFilename('evil\u202egpj.exe')).toBe('evilgpj.exe');
    expect(sanitizeFilename('a\u0000b\nc\td  e.png')).toBe('abcd e.png');
    expect(sanitizeFilename('...hidden')).toBe('hidden');
    expect(sanitizeFilename('x'.repeat(300) + '.png')).toHaveLength(255);
    expect(sanitizeFilename('///')).toBeUndefined();
    expect(sanitizeFilename(undefined)).toBeUndefined();
    expect(sanitizeFilename('été 猫.png')).toBe('été 猫.png');
  });

  it('normalises content types to their media type', () => {
    expect(mediaType('Image/JPEG; charset=binary')).toBe('image/jpeg');
  });
});

describe('TokenBucketLimiter', () => {
  it('allows a burst, then one request per refill interval, per client', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(6, 2, () => now); // one token every 10 s, burst 2
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 10]);
    expect(limiter.take('b')).toBe(0);
    now += 5_000;
    expect(limiter.take('a')).toBe(5);
    now += 5_000;
    expect(limiter.take('a')).toBe(0);
  });

  it('forgets the least recently used clients beyond its capacity', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(1, 1, () => now, 2);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('b')).toBe(0);
    expect(limiter.take('c')).toBe(0); // evicts a
    expect(limiter.take('a')).toBe(0); // a starts with a full bucket again
    now += 1;
    expect(limiter.take('c')).toBeGreaterThan(0);
  });
});
