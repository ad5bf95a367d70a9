;; Pillow-exact separable resampling passes (libImaging/Resample.c, 8 bits per channel) with
;; WebAssembly SIMD. Same integer arithmetic as the C code: each output value starts at 1 << 21,
;; accumulates pixel * coefficient (22-bit fixed point, wrapping 32-bit integers), then becomes
;; clip8(sum >> 22). The saturating narrows (i32 -> i16 signed, i16 -> u8 unsigned) are the clip.
;;
;; Compiled to resample-wasm.ts by `npx tsx bin/build-resample-wasm.ts`.
(module
  (memory (export "memory") 1)

;; Transpose an image of 3-byte pixels: dst pixel (x, y) = src pixel (y, x); src is h dense rows
  ;; of w pixels, dst is w rows of h pixels, dstStride >= h * 3 + 1 bytes apart. Works in 32 x 32
  ;; pixel tiles so that both sides stay in cache and in few pages. Each pixel moves as a 4-byte word
  ;; whose spare byte is overwritten later by the next pixel of its dst row, or lands in the row's
  ;; spare byte; src needs 16 bytes of padding.
  ;; The horizontal pass runs as the vertical kernel on the transposed image (16 bytes per step).
  (func (export "transpose")
    (param $src i32) (param $w i32) (param $h i32) (param $dst i32) (param $dstride i32)
    (local $y0 i32) (local $y1 i32) (local $x0 i32) (local $x1 i32) (local $x i32) (local $y i32)
    (local $srcPx i32) (local $dstPx i32) (local $sstride i32)
    (local.set $sstride (i32.mul (local.get $w) (i32.const 3)))
    (local.set $y0 (i32.const 0))
    (block $ytiles_done
      (loop $ytiles_loop
        (br_if $ytiles_done (i32.ge_u (local.get $y0) (local.get $h)))
        (local.set $y1 (i32.add (local.get $y0) (i32.const 32)))
        (if (i32.gt_u (local.get $y1) (local.get $h)) (then (local.set $y1 (local.get $h))))
        (local.set $x0 (i32.const 0))
        (block $xtiles_done
          (loop $xtiles_loop
            (br_if $xtiles_done (i32.ge_u (local.get $x0) (local.get $w)))
            (local.set $x1 (i32.add (local.get $x0) (i32.const 32)))
            (if (i32.gt_u (local.get $x1) (local.get $w)) (then (local.set $x1 (local.get $w))))
            (local.set $x (local.get $x0))
            (block $cols_done
              (loop $cols_loop
                (br_if $cols_done (i32.ge_u (local.get $x) (local.get $x1)))
                (local.set $srcPx
                  (i32.add (local.get $src)
                    (i32.add (i32.mul (local.get $y0) (local.get $sstride)) (i32.mul (local.get $x) (i32.const 3)))))
                (local.set $dstPx
                  (i32.add (local.get $dst)
                    (i32.add (i32.mul (local.get $x) (local.get $dstride)) (i32.mul (local.get $y0) (i32.const 3)))))
                (local.set $y (local.get $y0))
                (block $px_done
                  (loop $px_loop
                    (br_if $px_done (i32.ge_u (local.get $y) (local.get $y1)))
                    (i32.store (local.get $dstPx) (i32.load (local.get $srcPx)))
                    (local.set $srcPx (i32.add (local.get $srcPx) (local.get $sstride)))
                    (local.set $dstPx (i32.add (local.get $dstPx) (i32.const 3)))
                    (local.set $y (i32.add (local.get $y) (i32.const 1)))
                    (br $px_loop)))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $cols_loop)))
            (local.set $x0 (local.get $x1))
            (br $xtiles_loop)))
        (local.set $y0 (local.get $y1))
        (br $ytiles_loop))))

  ;; Vertical pass: every byte of a row is independent, so 16 bytes are done at once.
  ;; src: rows of `stride` bytes; rowBytes: bytes to produce per output row (<= stride);
  ;; outH: rows to produce; bounds: (first source row, tap count) int32 pairs per output row;
  ;; kk: ksize int32 coefficients per output row; out: dense output rows of rowBytes bytes.
  ;; Reads and writes up to 15 bytes past a row's end, so the caller pads src and out by 16 bytes.
  (func (export "vertical")
    (param $src i32) (param $stride i32) (param $rowBytes i32) (param $outH i32)
    (param $bounds i32) (param $kk i32) (param $ksize i32) (param $out i32)
    (local $yy i32) (local $i i32) (local $col i32) (local $p i32) (local $kp i32) (local $n i32)
    (local $krow i32) (local $taps i32) (local $orow i32)
    (local $px v128) (local $lo v128) (local $hi v128) (local $k v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $yy (i32.const 0))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $yy) (local.get $outH)))
        (local.set $col
          (i32.add (local.get $src)
            (i32.mul (i32.load (i32.add (local.get $bounds) (i32.shl (local.get $yy) (i32.const 3))))
                     (local.get $stride))))
        (local.set $taps (i32.load offset=4 (i32.add (local.get $bounds) (i32.shl (local.get $yy) (i32.const 3)))))
        (local.set $krow (i32.add (local.get $kk) (i32.shl (i32.mul (local.get $yy) (local.get $ksize)) (i32.const 2))))
        (local.set $orow (i32.add (local.get $out) (i32.mul (local.get $yy) (local.get $rowBytes))))
        (local.set $i (i32.const 0))
        (block $chunks_done
          (loop $chunks_loop
            (br_if $chunks_done (i32.ge_u (local.get $i) (local.get $rowBytes)))
            (local.set $a0 (i32x4.splat (i32.const 2097152)))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $p (i32.add (local.get $col) (local.get $i)))
            (local.set $kp (local.get $krow))
            (local.set $n (local.get $taps))
            (block $taps_done
              (loop $taps_loop
                (br_if $taps_done (i32.eqz (local.get $n)))
                (local.set $px (v128.load (local.get $p)))
                (local.set $k (i32x4.splat (i32.load (local.get $kp))))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $px)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $px)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $k))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $k))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $k))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $k))))
                (local.set $p (i32.add (local.get $p) (local.get $stride)))
                (local.set $kp (i32.add (local.get $kp) (i32.const 4)))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br $taps_loop)))
            (v128.store
              (i32.add (local.get $orow) (local.get $i))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s
                  (i32x4.shr_s (local.get $a0) (i32.const 22))
                  (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s
                  (i32x4.shr_s (local.get $a2) (i32.const 22))
                  (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $chunks_loop)))
        (local.set $yy (i32.add (local.get $yy) (i32.const 1)))
        (br $rows_loop))))
)
