/**
 * What Pillow shows where a GIF's first frame draws nothing, read from the GIF's own block structure.
 *
 * libvips gives transparent pixels, and the canvas outside the first frame, as (0, 0, 0, 0). Pillow
 * (`GifImagePlugin`: measured on 9.4, the same code in current releases) loads the first frame as
 * palette indices onto a canvas filled with the frame's transparent index (index 0 when the frame
 * declares none), then `convert("RGB")` looks every index up in the frame's palette. So every pixel
 * libvips leaves at alpha 0, and every pixel outside the frame, becomes the palette colour of that one
 * index. The GIF's background colour index plays no part.
 */

export type Rgb = readonly [number, number, number];

export interface GifFirstFrame {
  /** The palette colour Pillow gives the first frame's transparent pixels and the canvas outside it. */
  colour: Rgb;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Where the first frame lies on the canvas and what Pillow shows where it draws nothing. */
export function gifFirstFrame(bytes: Uint8Array): GifFirstFrame | undefined {
  const at = (i: number): number | undefined => bytes[i];
  if (bytes.length < 13) return undefined;
  const screenFlags = bytes[10]!;
  let p = 13;
  let globalPalette: { offset: number; entries: number } | undefined;
  if (screenFlags & 0x80) {
    const entries = 1 << ((screenFlags & 7) + 1);
    globalPalette = { offset: p, entries };
    p += 3 * entries;
  }
  let transparentIndex: number | undefined;
  while (p < bytes.length) {
    const introducer = bytes[p++];
    if (introducer === 0x21) {
      const label = at(p++);
      if (label === 0xf9 && at(p) !== undefined && at(p)! >= 4) {
        const packed = at(p + 1) ?? 0;
        transparentIndex = packed & 1 ? at(p + 4) : undefined;
      }
      // Skip the extension's sub-blocks: each is a size byte then that many bytes, ended by a 0 size.
      for (let size = at(p); size !== undefined && size !== 0; size = at(p)) p += size + 1;
      p += 1;
    } else if (introducer === 0x2c) {
      const flags = at(p + 8);
      if (flags === undefined) return undefined;
      const palette = flags & 0x80 ? { offset: p + 9, entries: 1 << ((flags & 7) + 1) } : globalPalette;
      const word = (i: number) => bytes[p + i]! | (bytes[p + i + 1]! << 8);
      return { colour: paletteColour(bytes, palette, transparentIndex ?? 0), left: word(0), top: word(2), width: word(4), height: word(6) };
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** Pillow reads a GIF without a colour table as greyscale (`L`): the index is the grey level. */
function paletteColour(bytes: Uint8Array, palette: { offset: number; entries: number } | undefined, index: number): Rgb {
  if (!palette) return [index, index, index];
  if (index >= palette.entries) return [0, 0, 0];
  const o = palette.offset + 3 * index;
  return [bytes[o] ?? 0, bytes[o + 1] ?? 0, bytes[o + 2] ?? 0];
}
