/**
 * One set of large float buffers kept between calls: `acquire` hands out the kept set when it is free
 * and large enough (else a new set), `release` keeps the largest set seen. A batch's cross-attention
 * keys/values (VQA's answer decoder over the question states) then live in the same memory call after call,
 * instead of a new batch's buffers being allocated while the last batch's wait for garbage collection.
 * Concurrent calls get sets of their own.
 */
export class ReusableBuffers {
  private kept: Float32Array[] | undefined;

  constructor(private readonly count: number) {}

  /** `count` buffers of exactly `length` floats (views of longer kept buffers when reused). */
  acquire(length: number): Float32Array[] {
    const kept = this.kept;
    this.kept = undefined; // a set too small is dropped rather than held beside the new one
    if (kept && (kept[0]?.length ?? 0) >= length) return kept.map((buffer) => buffer.subarray(0, length));
    return Array.from({ length: this.count }, () => new Float32Array(length));
  }

  /** Returns a set from `acquire`; it is kept unless a larger set already is (a concurrent call's). */
  release(buffers: readonly Float32Array[]): void {
    const whole = buffers.map((buffer) => new Float32Array(buffer.buffer));
    if ((whole[0]?.length ?? 0) > (this.kept?.[0]?.length ?? -1)) this.kept = whole;
  }
}
