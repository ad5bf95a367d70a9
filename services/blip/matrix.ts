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
