import { zipSync } from 'fflate';

/**
 * Writes state dicts the way `torch.save(state_dict, "pytorch_model.bin")` does (PyTorch >= 1.6): a zip of
 * `<archive>/data.pkl` (pickle protocol 2: an OrderedDict of `_rebuild_tensor_v2` calls over persistent-id
 * storages, memoised globals, a BUILD carrying `_metadata`), `<archive>/data/<key>` raw little-endian
 * storages, `byteorder` and `version`. Also half-precision safetensors. Tests only: no PyTorch here.
 */

export type SaveDtype = 'F32' | 'F16' | 'BF16';
export interface NamedTensor {
  shape: readonly number[];
  data: Float32Array;
}

const STORAGE: Record<SaveDtype, string> = { F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage' };
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> bfloat16 bits, round to nearest even (as `tensor.to(torch.bfloat16)`). */
export function toBfloat16(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  return ((bits + 0x7fff + ((bits >> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 -> IEEE half bits, round to nearest even (as `tensor.half()`), for normal and subnormal values. */
export function toHalf(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent >= 31) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - exponent;
    const half = m >> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  const half = (exponent << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

export function encodeTensor(data: Float32Array, dtype: SaveDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint16Array(data.length);
  const convert = dtype === 'F16' ? toHalf : toBfloat16;
  for (let i = 0; i < data.length; i++) out[i] = convert(data[i]!);
  return new Uint8Array(out.buffer);
}

class PickleWriter {
  private readonly parts: number[] = [];
  private memoCount = 0;
  private readonly globals = new Map<string, number>();

  op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  private put(): this {
    const slot = this.memoCount++;
    return slot < 256 ? this.op(0x71, slot) : this.op(0x72, slot & 255, (slot >> 8) & 255, (slot >> 16) & 255, slot >>> 24);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.op(0x58, b.length & 255, (b.length >> 8) & 255, (b.length >> 16) & 255, b.length >>> 24, ...b);
    return this.put();
  }
  int(n: number): this {
    if (n < 256) return this.op(0x4b, n);
    if (n < 65536) return this.op(0x4d, n & 255, n >> 8);
    return this.op(0x4a, n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255);
  }
  global(module: string, name: string): this {
    const key = `${module}\n${name}\n`;
    const slot = this.globals.get(key);
    if (slot !== undefined) return slot < 256 ? this.op(0x68, slot) : this.op(0x6a, slot & 255, (slot >> 8) & 255, (slot >> 16) & 255, slot >>> 24);
    this.globals.set(key, this.memoCount);
    this.op(0x63, ...Buffer.from(key, 'ascii'));
    return this.put();
  }
  intTuple(values: readonly number[]): this {
    this.op(0x28);
    for (const v of values) this.int(v);
    return this.op(0x74).put();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** The pickle of an OrderedDict state dict whose tensors each own storage `String(i)`. */
export function stateDictPickle(entries: readonly { name: string; shape: readonly number[]; dtype: SaveDtype; stride?: readonly number[] }[]): Uint8Array {
  const w = new PickleWriter();
  w.op(0x80, 2).global('collections', 'OrderedDict').op(0x29, 0x52);
  w.op(0x28);
  entries.forEach(({ name, shape, dtype, stride: given }, i) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    const stride = given ?? shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    w.str(name).global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    w.op(0x28).str('storage').global('torch', STORAGE[dtype]).str(String(i)).str('cpu').int(numel).op(0x74).op(0x51);
    w.int(0).intTuple(shape).intTuple(stride).op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52);
    w.op(0x74, 0x52);
  });
  w.op(0x75);
  // state: {'_metadata': OrderedDict({'': {'version': 1}})}
  w.op(0x7d).op(0x28).str('_metadata').global('collections', 'OrderedDict').op(0x29, 0x52).op(0x28).str('').op(0x7d).str('version').int(1).op(0x73).op(0x75).op(0x75).op(0x62);
  return w.op(0x2e).bytes();
}

/** A `pytorch_model.bin` of the tensors, stored as `dtype`. */
export function torchSaveBytes(tensors: ReadonlyMap<string, NamedTensor>, dtype: SaveDtype, archive = 'pytorch_model'): Uint8Array {
  const list = [...tensors].map(([name, t]) => ({ name, shape: t.shape, dtype, data: t.data }));
  const files: Record<string, Uint8Array> = {
    [`${archive}/data.pkl`]: stateDictPickle(list),
    [`${archive}/byteorder`]: Buffer.from('little'),
    [`${archive}/version`]: Buffer.from('3\n'),
  };
  list.forEach((t, i) => {
    files[`${archive}/data/${i}`] = encodeTensor(t.data, dtype);
  });
  return zipSync(files, { level: 0 });
}

/** A safetensors file of the tensors, stored as `dtype`. */
export function safetensorsOf(tensors: ReadonlyMap<string, NamedTensor>, dtype: SaveDtype): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const [name, { shape, data }] of tensors) {
    const body = encodeTensor(data, dtype);
    header[name] = { dtype, shape, data_offsets: [offset, offset + body.length] };
    bodies.push(body);
    offset += body.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, Buffer.from(json), ...bodies]);
}
