import { describe, expect, it } from 'vitest';
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
