/** Types for `heic-decode` (libheif compiled to WebAssembly), which ships none. */
declare module 'heic-decode' {
  export interface HeicPixels {
    width: number;
    height: number;
    /** RGBA, 8 bits per channel, rows top first. */
    data: Uint8ClampedArray;
  }
  export interface HeicImage {
    /** Size after the file's rotation and mirroring, read without decoding. */
    width: number;
    height: number;
    decode(): Promise<HeicPixels>;
  }
  interface Decode {
    (options: { buffer: Uint8Array }): Promise<HeicPixels>;
    /** Every top-level image, decoded on demand; call `dispose()` on the list when done. */
    all(options: { buffer: Uint8Array }): Promise<HeicImage[] & { dispose(): void }>;
  }
  const decode: Decode;
  export default decode;
}
