/**
 * ICO files: the entry Pillow's `IcoImagePlugin` opens (the largest, then the deepest colour), either an
 * embedded PNG or a DIB (a bitmap whose header declares twice the height: colours, then the AND mask).
 * `convert("RGB")` drops the alpha that the mask or a 32-bit entry carries, so only colours are read.
 */
import { type BitmapHeader, readBitmapHeader } from './bmp.js';
import { ImageInputError } from './errors.js';

export interface IcoEntry {
  /** Directory size (0 in the directory means 256). */
  width: number;
  height: number;
  offset: number;
  size: number;
  /** An embedded PNG file; otherwise a DIB. */
  png: boolean;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The entry Pillow shows: entries sorted by colour depth, then by area (stable), largest first. */
export function pickIcoEntry(bytes: Uint8Array): IcoEntry {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 6) throw new ImageInputError('truncated', 'the ico image is truncated (inside its header)');
  const count = view.getUint16(4, true);
  if (count === 0) throw new ImageInputError('corrupt', 'the ico image is corrupt: its directory lists no image');
  if (6 + 16 * count > bytes.length) throw new ImageInputError('truncated', 'the ico image is truncated (inside its directory)');
  const entries = Array.from({ length: count }, (_, i) => {
    const e = 6 + 16 * i;
    const width = bytes[e]! || 256;
    const height = bytes[e + 1]! || 256;
    const colours = bytes[e + 2]!;
    const bpp = view.getUint16(e + 6, true);
    const depth = bpp || (colours !== 0 && Math.ceil(Math.log2(colours))) || 256;
    return { width, height, depth, size: view.getUint32(e + 8, true), offset: view.getUint32(e + 12, true) };
  });
  const byDepth = entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.depth - b.e.depth || a.i - b.i);
  const byArea = byDepth.map((x, rank) => ({ ...x, rank })).sort((a, b) => a.e.width * a.e.height - b.e.width * b.e.height || a.rank - b.rank);
  const chosen = byArea[byArea.length - 1]!.e;
  if (chosen.offset >= bytes.length) throw new ImageInputError('truncated', 'the ico image is truncated (its image data is missing)');
  const png = PNG_MAGIC.every((b, i) => bytes[chosen.offset + i] === b);
  return { width: chosen.width, height: chosen.height, offset: chosen.offset, size: chosen.size, png };
}

/** The DIB of a bitmap entry, with its height halved to the colour bitmap as Pillow does. */
export function readIcoBitmapHeader(bytes: Uint8Array, entry: IcoEntry): BitmapHeader {
  const header = readBitmapHeader(bytes, entry.offset, 0, 'ico');
  return { ...header, height: Math.trunc(header.height / 2) };
}
