/**
 * Writes the row-major `rows x columns` matrix `source` into `target` as its transpose,
 * `columns x rows`, and returns `target`. Used for weights laid out for a kernel and for the image
 * states the decoder step takes transposed.
 */
export function transposeInto<T extends Float32Array | Int8Array>(source: T, rows: number, columns: number, target: T): T {
  for (let row = 0; row < rows; row += 1) {
    for (let column = 0; column < columns; column += 1) target[column * rows + row] = source[row * columns + column] as number;
  }
  return target;
}

/** The arrays one after another in one new array. */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
