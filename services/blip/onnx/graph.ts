import type { onnx } from 'onnx-proto';

/**
 * A small typed DSL for building ONNX graphs: named inputs, outputs, initializers and nodes, held as
 * plain ONNX protobuf-shaped objects. `serialize.ts` encodes a finished graph into a model file
 * (large initializers as external data); only it loads the protobuf library, so processes that run
 * already compiled graphs never pay for it.
 */

/** Default operator set of the standard domain, and of onnxruntime's contrib domain. */
export const OPSET = 17;
export const CONTRIB_DOMAIN = 'com.microsoft';

export type ElementType = 'float32' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
/** A dimension: a fixed size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

/** `TensorProto.DataType` values. */
export const ELEMENT_TYPES: Record<ElementType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 };

/** `AttributeProto.AttributeType` values. */
const ATTRIBUTE_TYPES = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, INTS: 7 } as const;

export type TensorData = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export interface TensorValue {
  readonly type: ElementType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** A value flowing through the graph, referred to by name. */
export class Value {
  constructor(readonly name: string) {}
}

/** Marks a float attribute (plain numbers are integer attributes). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const float = (value: number): FloatAttr => new FloatAttr(value);

export type AttrValue = number | readonly number[] | string | FloatAttr | TensorValue;

export interface NodeOptions {
  readonly attrs?: Record<string, AttrValue>;
  readonly domain?: string;
  /** Number of outputs (default 1). */
  readonly outputs?: number;
}

interface IOSpec {
  readonly name: string;
  readonly type: ElementType;
  readonly dims: readonly Dim[];
}

export interface Initializer {
  readonly name: string;
  readonly tensor: TensorValue;
}

export function tensor(type: 'float32', dims: readonly number[], data: Float32Array): TensorValue;
export function tensor(type: 'int64', dims: readonly number[], data: BigInt64Array): TensorValue;
export function tensor(type: ElementType, dims: readonly number[], data: TensorData): TensorValue;
export function tensor(type: ElementType, dims: readonly number[], data: TensorData): TensorValue {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`tensor of dims [${dims.join(', ')}] needs ${count} values, got ${data.length}`);
  return { type, dims, data };
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: IOSpec[] = [];
  readonly outputs: IOSpec[] = [];
  private readonly usedNames = new Set<string>();
  private readonly constants = new Map<string, Value>();
  /** Initializers by the memory they view, so one tensor given twice (tied weights) is stored once. */
  private readonly byMemory = new WeakMap<ArrayBufferLike, { byteOffset: number; tensor: TensorValue; value: Value }[]>();
  private scopes: string[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  input(name: string, type: ElementType, dims: readonly Dim[]): Value {
    this.claim(name);
    this.inputs.push({ name, type, dims });
    return new Value(name);
  }

  /** Declares `value` as a graph output called `name` (an Identity node renames it if needed). */
  output(value: Value, name: string, type: ElementType, dims: readonly Dim[]): Value {
    const named = value.name === name ? value : this.renamed(value, name);
    this.outputs.push({ name, type, dims });
    return named;
  }

  /**
   * A named weight. When the same memory (same buffer, offset, type and dims: tied weights) is already an
   * initializer, that one is returned instead of storing a copy under `name`.
   */
  initializer(name: string, value: TensorValue): Value {
    const { buffer, byteOffset } = value.data;
    const known = this.byMemory.get(buffer) ?? [];
    const same = known.find(
      (entry) =>
        entry.byteOffset === byteOffset &&
        entry.tensor.type === value.type &&
        entry.tensor.data.byteLength === value.data.byteLength &&
        entry.tensor.dims.join() === value.dims.join(),
    );
    if (same) return same.value;
    this.claim(name);
    this.initializers.push({ name, tensor: value });
    const created = new Value(name);
    known.push({ byteOffset, tensor: value, value: created });
    this.byMemory.set(buffer, known);
    return created;
  }

  /** A small constant (deduplicated), stored as an initializer. */
  constant(value: TensorValue): Value {
    const key = `${value.type}:${value.dims.join('x')}:${Array.from(value.data, String).join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const created = this.initializer(this.uniqueName('const'), value);
    this.constants.set(key, created);
    return created;
  }

  int64s(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant(tensor('int64', dims, BigInt64Array.from(values, (v) => BigInt(v))));
  }

  scalar(value: number): Value {
    return this.constant(tensor('float32', [], Float32Array.of(value)));
  }

  /** Adds one node; returns its outputs. An empty string input leaves an optional input out. */
  node(opType: string, inputs: readonly (Value | '')[], options: NodeOptions = {}): Value[] {
    const count = options.outputs ?? 1;
    const base = this.uniqueName(opType);
    const outputs = Array.from({ length: count }, (_, i) => new Value(count === 1 ? base : `${base}:${i}`));
    for (const output of outputs) this.usedNames.add(output.name);
    this.nodes.push({
      name: base,
      opType,
      domain: options.domain ?? '',
      input: inputs.map((input) => (input === '' ? '' : input.name)),
      output: outputs.map((output) => output.name),
      attribute: Object.entries(options.attrs ?? {}).map(([key, value]) => attribute(key, value)),
    });
    return outputs;
  }

  /** Adds a node with exactly one output. */
  op(opType: string, inputs: readonly (Value | '')[], options: Omit<NodeOptions, 'outputs'> = {}): Value {
    const [output] = this.node(opType, inputs, options);
    if (!output) throw new Error(`${opType} produced no output`);
    return output;
  }

  /** Runs `build` with node names prefixed by `scope` (e.g. a layer's weight prefix). */
  within<T>(scope: string, build: () => T): T {
    this.scopes.push(scope);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  private renamed(value: Value, name: string): Value {
    this.claim(name);
    this.nodes.push({ name: `${name}/Identity`, opType: 'Identity', input: [value.name], output: [name] });
    return new Value(name);
  }

  private uniqueName(kind: string): string {
    const scope = this.scopes.join('/');
    let name: string;
    do {
      this.counter += 1;
      name = `${scope ? `${scope}/` : ''}${kind}_${this.counter}`;
    } while (this.usedNames.has(name));
    return name;
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`graph ${this.name}: duplicate value name ${name}`);
    this.usedNames.add(name);
  }
}

function attribute(name: string, value: AttrValue): onnx.IAttributeProto {
  if (value instanceof FloatAttr) return { name, type: ATTRIBUTE_TYPES.FLOAT, f: value.value };
  if (typeof value === 'number') return { name, type: ATTRIBUTE_TYPES.INT, i: value };
  if (typeof value === 'string') return { name, type: ATTRIBUTE_TYPES.STRING, s: new TextEncoder().encode(value) };
  if (isTensorValue(value)) return { name, type: ATTRIBUTE_TYPES.TENSOR, t: inlineTensorProto(name, value) };
  return { name, type: ATTRIBUTE_TYPES.INTS, ints: [...value] };
}

function isTensorValue(value: AttrValue): value is TensorValue {
  return typeof value === 'object' && 'data' in value;
}

/** A TensorProto holding its bytes inline. */
export function inlineTensorProto(name: string, value: TensorValue): onnx.ITensorProto {
  return {
    name,
    dims: [...value.dims],
    dataType: ELEMENT_TYPES[value.type],
    rawData: new Uint8Array(value.data.buffer, value.data.byteOffset, value.data.byteLength),
  };
}
