// hpack.js ships no types; only the primitives hpack-old.ts (the benchmark's baseline) uses are declared.
declare module "hpack.js" {
  interface Entry {
    name: string;
    value: string;
    nameSize: number;
  }
  interface Table {
    lookup(index: number): Entry;
    reverseLookup(name: string, value: string): number;
    add(name: string, value: string, nameSize: number, valueSize: number): void;
    updateSize(size: number): void;
  }
  interface Encoder {
    encodeBit(bit: number): void;
    encodeBits(bits: number, len: number): void;
    encodeInt(num: number): void;
    encodeStr(bytes: number[], huffman: boolean): void;
    render(): Buffer[];
  }
  interface Decoder {
    push(chunk: Buffer): void;
    isEmpty(): boolean;
    decodeBit(): number;
    decodeInt(): number;
    decodeStr(): number[] | Buffer;
  }
  const hpack: {
    table: { create(options: { maxSize: number }): Table };
    encoder: { create(): Encoder };
    decoder: { create(): Decoder };
    utils: { toArray(s: string): number[]; stringify(bytes: ArrayLike<number>): string };
  };
  export default hpack;
}
