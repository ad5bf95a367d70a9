/**
 * A pickle reader that executes nothing: it interprets the opcodes `torch.save` writes for a state dict
 * (protocol 2, or 4 in newer releases) and builds tensor references from them. It knows a handful of names
 * — `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` and the legacy
 * `torch.*Storage` classes — and treats them as data, never as code. Anything else (another import, a call
 * of anything but those rebuilds, object construction opcodes) is refused with the reason, before any of
 * it could run: `PickleRefusedError`.
 */

/** Why a pickle was refused; nothing in it was executed. */
export class PickleRefusedError extends Error {}

/** A storage named by a persistent id: `('storage', torch.FloatStorage, key, location, numel)`. */
export interface StorageRef {
  readonly kind: 'storage';
  /** The name of the zip entry `data/<key>`. */
  readonly key: string;
  /** safetensors-style dtype name: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL. */
  readonly dtype: string;
}

/** A tensor over a storage: element offset, shape and strides in elements. */
export interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

class Global {
  constructor(readonly name: string) {}
}
class Tuple {
  constructor(readonly items: PyValue[]) {}
}
/** A dict or OrderedDict: string keys only (a state dict's names, its metadata's fields). */
class Dict {
  readonly entries = new Map<string, PyValue>();
}
const MARK = Symbol('mark');

type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | Tuple | Dict | Global | StorageRef | TensorRef;
type StackItem = PyValue | typeof MARK;

const STORAGE_DTYPES: Record<string, string> = {
  'torch.FloatStorage': 'F32',
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.DoubleStorage': 'F64',
  'torch.LongStorage': 'I64',
  'torch.IntStorage': 'I32',
  'torch.ShortStorage': 'I16',
  'torch.CharStorage': 'I8',
  'torch.ByteStorage': 'U8',
  'torch.BoolStorage': 'BOOL',
};
const CALLABLE = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter']);

function refuse(why: string): never {
  throw new PickleRefusedError(`${why}; a weights file holds only tensors, so it was refused and nothing in it was executed`);
}

function asInt(value: PyValue | undefined, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n) return Number(value);
  return refuse(`${what} is not an integer`);
}

function intTuple(value: PyValue | undefined, what: string): number[] {
  if (!(value instanceof Tuple)) return refuse(`${what} is not a tuple`);
  return value.items.map((v) => asInt(v, what));
}

function persistentLoad(pid: PyValue): StorageRef {
  if (!(pid instanceof Tuple) || pid.items[0] !== 'storage') return refuse('a persistent id is not a storage reference');
  const [, type, key] = pid.items;
  if (!(type instanceof Global) || STORAGE_DTYPES[type.name] === undefined) return refuse('a storage names an unknown storage type');
  if (typeof key !== 'string' || !/^[A-Za-z0-9_]+$/.test(key)) return refuse('a storage key is not a plain name');
  return { kind: 'storage', key, dtype: STORAGE_DTYPES[type.name]! };
}

function call(fn: PyValue, args: PyValue): PyValue {
  if (!(fn instanceof Global) || !CALLABLE.has(fn.name)) {
    return refuse(`the pickle calls ${fn instanceof Global ? fn.name : 'something that is not a known function'}`);
  }
  if (!(args instanceof Tuple)) return refuse(`${fn.name} is called without an argument tuple`);
  const a = args.items;
  if (fn.name === 'collections.OrderedDict') {
    if (a.length !== 0) refuse('OrderedDict is called with arguments');
    return new Dict();
  }
  if (fn.name === 'torch._utils._rebuild_parameter') {
    const data = a[0];
    if (!data || typeof data !== 'object' || !('kind' in data) || data.kind !== 'tensor') return refuse('a parameter wraps something that is not a tensor');
    return data;
  }
  const storage = a[0];
  if (!storage || typeof storage !== 'object' || !('kind' in storage) || storage.kind !== 'storage') return refuse('a tensor is rebuilt from something that is not a storage');
  const shape = intTuple(a[2], 'a tensor size');
  const stride = intTuple(a[3], 'a tensor stride');
  if (shape.length !== stride.length) refuse('a tensor has as many strides as dimensions');
  return { kind: 'tensor', storage, offset: asInt(a[1], 'a storage offset'), shape, stride };
}

/** Read a state-dict pickle: tensor references by name (nested dicts are flattened with dots, as transformers does not need). */
export function readStateDictPickle(bytes: Uint8Array): Map<string, TensorRef> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PyValue>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) refuse('the pickle ends in the middle of an opcode');
  };
  const u8 = () => {
    need(1);
    return bytes[p++]!;
  };
  const u16 = () => {
    need(2);
    p += 2;
    return view.getUint16(p - 2, true);
  };
  const u32 = () => {
    need(4);
    p += 4;
    return view.getUint32(p - 4, true);
  };
  const take = (n: number) => {
    need(n);
    p += n;
    return bytes.subarray(p - n, p);
  };
  const utf8 = (n: number) => Buffer.from(take(n)).toString('utf8');
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) return refuse('the pickle pops past its stack');
    return v;
  };
  const popMark = (): PyValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) return refuse('the pickle has no mark to pop to');
    const items = stack.splice(at) as PyValue[];
    items.shift();
    return items;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) return refuse('the pickle reads an empty stack');
    return v;
  };
  const setItems = (target: PyValue, items: PyValue[]) => {
    if (!(target instanceof Dict)) refuse('the pickle sets items on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string') refuse('a dict key is not a string');
      (target as Dict).entries.set(key as string, items[i + 1]!);
    }
  };
  const global = (name: string): Global => {
    if (!CALLABLE.has(name) && STORAGE_DTYPES[name] === undefined) refuse(`the pickle imports ${name}`);
    return new Global(name);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        take(8);
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const end1 = bytes.indexOf(0x0a, p);
        const end2 = end1 < 0 ? -1 : bytes.indexOf(0x0a, end1 + 1);
        if (end2 < 0) refuse('a GLOBAL opcode is cut short');
        const module = utf8(end1 - p);
        p += 1;
        const name = utf8(end2 - p);
        p += 1;
        stack.push(global(`${module}.${name}`));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') refuse('a STACK_GLOBAL names no module');
        stack.push(global(`${module as string}.${name as string}`));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Dict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new Tuple([]));
        break;
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x74: // TUPLE
        stack.push(new Tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new Tuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        stack.push(new Tuple([pop(), b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push(new Tuple([pop(), b, c]));
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(u8()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(utf8(u8()));
        break;
      case 0x54: // BINSTRING
        stack.push(utf8(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const raw = take(u8());
        let v = 0n;
        for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]!);
        if (raw.length > 0 && raw[raw.length - 1]! & 0x80) v -= 1n << BigInt(8 * raw.length);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(p, false));
        p += 8;
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) refuse('the pickle reads a memo slot it never wrote');
        stack.push(memo.get(key)!);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop();
        const list = top();
        if (!Array.isArray(list)) refuse('the pickle appends to something that is not a list');
        (list as PyValue[]).push(value);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) refuse('the pickle appends to something that is not a list');
        (list as PyValue[]).push(...items);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x62: {
        // BUILD: only an OrderedDict's state (a state dict's `_metadata`), which is dropped
        const state = pop();
        if (!(top() instanceof Dict) || !(state instanceof Dict || state instanceof Tuple)) refuse('the pickle sets the state of something that is not a dict');
        break;
      }
      case 0x2e: {
        // STOP
        const result = pop();
        if (!(result instanceof Dict)) return refuse('the pickle does not hold a dict of tensors');
        return collectTensors(result);
      }
      default:
        return refuse(`the pickle uses opcode 0x${op.toString(16).padStart(2, '0')} (${OPCODE_NAMES[op] ?? 'unknown'}), which torch.save does not write for a state dict`);
    }
  }
}

const OPCODE_NAMES: Record<number, string> = {
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x50: 'PERSID',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
};

function collectTensors(dict: Dict): Map<string, TensorRef> {
  const out = new Map<string, TensorRef>();
  for (const [name, value] of dict.entries) {
    if (value && typeof value === 'object' && 'kind' in value && value.kind === 'tensor') out.set(name, value);
  }
  return out;
}
