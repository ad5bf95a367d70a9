import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resizeRgb, simdResamplingAvailable, type ResamplingFilter } from '../../services/blip/processing/resample.js';
import { compileResampleWat, renderModuleSource } from '../../services/blip/processing/wasm/build.js';
import { RESAMPLE_WASM_BASE64 } from '../../services/blip/processing/wasm/resample-wasm.js';

/**
 * SHA-256 (first 16 hex digits) of `Image.fromarray(input).resize((w, h), resample=f)` computed with
 * Pillow 9.4.0 (Debian 12's python3-pil), for a deterministic input image: byte i of the HWC RGB
 * buffer is ((i * 2654435761) mod 2^32) >> 24. Filters: 0 nearest, 1 lanczos, 2 bilinear,
 * 3 bicubic, 4 box, 5 hamming. Upscaling, downscaling, mixed and tiny cases.
 */
const PILLOW_9_4: Record<string, string> = {
  '37x23->384x384/0': 'c6cd435ea7c506ba',
  '37x23->384x384/1': '66c1465901c32691',
  '37x23->384x384/2': 'c17935b522817761',
  '37x23->384x384/3': '776139155d4dfcd0',
  '37x23->384x384/4': 'c6cd435ea7c506ba',
  '37x23->384x384/5': '4ae4649449a4dee9',
  '640x480->384x384/0': 'b6586806304e88d2',
  '640x480->384x384/1': '3d5c8b215db41ab4',
  '640x480->384x384/2': '421fe0531149ca4c',
  '640x480->384x384/3': '96547e7b9c0fd082',
  '640x480->384x384/4': 'e89216b058994be5',
  '640x480->384x384/5': '52e28c2912444268',
  '1200x100->384x384/0': '54ab8c36246a2de1',
  '1200x100->384x384/1': '6be131896ec49d00',
  '1200x100->384x384/2': '77055072383565e7',
  '1200x100->384x384/3': '0dc838bf33858203',
  '1200x100->384x384/4': '9b45ec137726e9d8',
  '1200x100->384x384/5': '4068e22366884540',
  '13x200->7x9/0': '7c5e4a88f9eb6592',
  '13x200->7x9/1': 'b59318d5c2013884',
  '13x200->7x9/2': 'a31efa6b2bde7433',
  '13x200->7x9/3': 'b6d5ac0759d4f680',
  '13x200->7x9/4': '2422da95331d206f',
  '13x200->7x9/5': '7cd3f47fffc92810',
  '100x100->100x51/0': 'ea406675dca50501',
  '100x100->100x51/1': 'b6a7996da216afc1',
  '100x100->100x51/2': '153ad633a4e4dd01',
  '100x100->100x51/3': '95a0630e5350a4de',
  '100x100->100x51/4': 'a4948ef63e9c082f',
  '100x100->100x51/5': '6040233e72f795ed',
};

function patternImage(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.imul(i, 2654435761) >>> 24;
  return data;
}

describe.each(['simd', 'js'] as const)('resizeRgb (%s passes) reproduces Pillow Image.resize', (implementation) => {
  for (const [key, digest] of Object.entries(PILLOW_9_4)) {
    it(key, () => {
      const m = /^(\d+)x(\d+)->(\d+)x(\d+)\/(\d)$/.exec(key)!;
      const [w, h, ow, oh, f] = m.slice(1).map(Number) as [number, number, number, number, number];
      const out = resizeRgb({ data: patternImage(w, h), width: w, height: h }, ow, oh, f as ResamplingFilter, { implementation });
      expect([out.width, out.height, out.data.length]).toEqual([ow, oh, ow * oh * 3]);
      expect(createHash('sha256').update(out.data).digest('hex').slice(0, 16)).toBe(digest);
    });
  }
});

describe('resizeRgb', () => {
  it('runs its passes as WebAssembly SIMD on this Node', () => {
    expect(simdResamplingAvailable()).toBe(true);
  });

  it('ships the WebAssembly compiled from resample.wat (run bin/build-resample-wasm.ts after editing it)', async () => {
    const bytes = await compileResampleWat();
    expect(Buffer.from(RESAMPLE_WASM_BASE64, 'base64').equals(Buffer.from(bytes))).toBe(true);
    expect(renderModuleSource(bytes)).toContain(RESAMPLE_WASM_BASE64.slice(0, 50));
  });

  it('gives identical bytes from both implementations on odd sizes and a horizontal-only resize', () => {
    for (const [w, h, ow, oh] of [[1, 1, 5, 3], [17, 1, 3, 1], [301, 7, 299, 7], [5, 640, 5, 384]] as const) {
      const img = { data: patternImage(w, h), width: w, height: h };
      for (const f of [1, 2, 3, 4, 5] as const) {
        const a = resizeRgb(img, ow, oh, f, { implementation: 'simd' });
        const b = resizeRgb(img, ow, oh, f, { implementation: 'js' });
        expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
      }
    }
  });

  it('returns a copy when the size does not change', () => {
    const data = patternImage(5, 4);
    const out = resizeRgb({ data, width: 5, height: 4 }, 5, 4, 3);
    expect(out.data).toEqual(data);
    expect(out.data).not.toBe(data);
  });

  it('rejects bad sizes and buffers', () => {
    expect(() => resizeRgb({ data: new Uint8Array(12), width: 2, height: 2 }, 0, 3, 3)).toThrow(RangeError);
    expect(() => resizeRgb({ data: new Uint8Array(11), width: 2, height: 2 }, 3, 3, 3)).toThrow(RangeError);
  });
});
