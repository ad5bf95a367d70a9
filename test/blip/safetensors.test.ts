import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../services/blip/checkpoint/safetensors.js';
import { scratchDir } from '../support/fixtures.js';

// The reader on a small hand-written file: float16 and bfloat16 tensors are widened to float32
// bit-exactly (normal, subnormal, signed zero, infinities, NaN), float32 ones are read in place or,
// when unaligned, copied.

const scratch = await scratchDir('blipline-safetensors-');
afterAll(() => rm(scratch, { recursive: true, force: true }));

interface Tensor {
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

/** Writes a safetensors file: 8-byte header length, the JSON header, then the tensors' bytes in order. */
async function writeSafetensors(name: string, tensors: Record<string, Tensor>, headerPadding = 0): Promise<string> {
  let offset = 0;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (const [tensor, { dtype, shape, bytes }] of Object.entries(tensors)) {
    header[tensor] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(headerPadding));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(scratch, name);
  await writeFile(file, Buffer.concat([length, json, ...Object.values(tensors).map((t) => t.bytes)]));
  return file;
}

const u16 = (...values: number[]) => Buffer.from(new Uint16Array(values).buffer);
const f32 = (...values: number[]) => Buffer.from(new Float32Array(values).buffer);

// bit patterns and the float32 values they stand for
const HALF: [number, number][] = [
  [0x3c00, 1],
  [0xc000, -2],
  [0x3555, 0.333251953125],
  [0x7bff, 65504], // largest normal
  [0x0400, 2 ** -14], // smallest normal
  [0x0001, 2 ** -24], // smallest subnormal
  [0x03ff, 1023 * 2 ** -24], // largest subnormal
  [0x8000, -0],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
];
const BFLOAT: [number, number][] = [
  [0x3f80, 1],
  [0xc000, -2],
  [0x4049, 3.140625],
  [0x7f7f, 3.3895313892515355e38], // largest normal
  [0x0080, 2 ** -126], // smallest normal
  [0x0001, 2 ** -133], // smallest subnormal
  [0x8000, -0],
  [0x7f80, Infinity],
  [0xff80, -Infinity],
];

describe('SafetensorsFile', () => {
  it('widens float16 and bfloat16 tensors to float32 exactly', async () => {
    const file = await writeSafetensors('halves.safetensors', {
      half: { dtype: 'F16', shape: [2, HALF.length / 2], bytes: u16(...HALF.map(([bits]) => bits)) },
      bfloat: { dtype: 'BF16', shape: [BFLOAT.length], bytes: u16(...BFLOAT.map(([bits]) => bits)) },
      nans: { dtype: 'F16', shape: [1, 2], bytes: u16(0x7e00, 0xfe01) },
      bnans: { dtype: 'BF16', shape: [2], bytes: u16(0x7fc0, 0xffc1) },
    });
    const reader = await SafetensorsFile.open(file);
    const half = reader.float32('half');
    expect(half.shape).toEqual([2, HALF.length / 2]);
    expect([...half.data]).toEqual(HALF.map(([, value]) => value));
    expect(Object.is(half.data[HALF.findIndex(([bits]) => bits === 0x8000)], -0)).toBe(true);
    const bfloat = reader.float32('bfloat');
    expect([...bfloat.data]).toEqual(BFLOAT.map(([, value]) => Math.fround(value)));
    expect(Object.is(bfloat.data[BFLOAT.findIndex(([bits]) => bits === 0x8000)], -0)).toBe(true);
    for (const name of ['nans', 'bnans']) {
      const data = [...reader.float32(name).data];
      expect(data).toHaveLength(2);
      expect(data.map(Number.isNaN), name).toEqual([true, true]);
    }
  });

  it('reads float32 tensors in place when aligned and as a copy when not', async () => {
    const values = [1.5, -0.25, 3e-40, 7];
    for (const padding of [0, 1, 2, 3]) {
      const file = await writeSafetensors(`f32-${padding}.safetensors`, { w: { dtype: 'F32', shape: [2, 2], bytes: f32(...values) } }, padding);
      const tensor = (await SafetensorsFile.open(file)).float32('w');
      expect(tensor.shape).toEqual([2, 2]);
      expect([...tensor.data], `header padding ${padding}`).toEqual(values.map(Math.fround));
    }
  });

  it('refuses sizes that disagree with the dtype, data past the end, and dtypes it cannot widen', async () => {
    const short = await writeSafetensors('short.safetensors', { w: { dtype: 'F16', shape: [3], bytes: u16(0x3c00, 0x3c00) } });
    await expect(SafetensorsFile.open(short)).rejects.toMatchObject({ code: 'invalid_weights', message: expect.stringContaining('4 bytes for shape [3] of F16') });
    const ints = await SafetensorsFile.open(await writeSafetensors('ints.safetensors', { i: { dtype: 'I8', shape: [2], bytes: Buffer.from([1, 2]) } }));
    expect(() => ints.float32('i')).toThrow(expect.objectContaining({ code: 'invalid_weights', message: expect.stringContaining('unsupported dtype I8') }));
    expect(() => ints.float32('absent')).toThrow(expect.objectContaining({ code: 'missing_weight' }));
    const bytes = Buffer.from(new Uint8Array(8));
    bytes.writeBigUInt64LE(100n);
    expect(() => SafetensorsFile.fromBytes('truncated', bytes)).toThrow(expect.objectContaining({ code: 'invalid_weights', message: expect.stringContaining('header length past the end') }));
  });
});
