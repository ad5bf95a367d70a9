import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sniffBlob, sniffImageType } from '../../services/web/src/sniff.js';
import { fixturePath } from '../support/fixtures.js';

describe('image sniffing from file bytes', () => {
  it('recognises every fixture image by its bytes', async () => {
    const names = readdirSync(fixturePath('images'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const bytes = readFileSync(fixturePath('images', name));
      const expected = name.endsWith('.png') ? 'image/png' : 'image/jpeg';
      expect(await sniffImageType(new Uint8Array(bytes))).toBe(expected);
    }
  });

  it('decides from the bytes, not the name or declared type', async () => {
    const png = readFileSync(fixturePath('images', 'tiny_7x5.png'));
    expect(await sniffBlob(new Blob([png], { type: 'image/jpeg' }))).toBe('image/png');
    const text = new Blob(['this is a text file, renamed to .png\n'.repeat(20)], { type: 'image/png' });
    expect(await sniffBlob(text)).toBeNull();
    expect(await sniffBlob(new Blob([]))).toBeNull();
  });

  it('does not count other binary formats as images', async () => {
    const pdf = new TextEncoder().encode('%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n');
    expect(await sniffImageType(pdf)).toBeNull();
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(await sniffImageType(zip)).toBeNull();
  });
});
