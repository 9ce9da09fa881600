/**
 * HPACK's Huffman code (RFC 7541 §5.2, Appendix B), decode only: our encoder sends raw octets.
 *
 * The code is canonical (codes of one length are consecutive, in symbol order, and each length
 * continues from the last code of the shorter one), so the code lengths alone define it; the
 * codes are rebuilt from them at module load. The decoder is a state machine over the code tree: a
 * state is an internal node (256 of them for 257 symbols). A 4-bit step table (one nibble: next node,
 * at most one symbol, as no code is shorter than 5 bits) is built from the tree, and two of its steps
 * are composed into the 8-bit table the decoder uses: one lookup per octet, ~2x faster than per nibble
 * (90 vs 170 ns for a 37-octet string), for 256 KiB and ~4 ms at load.
 */

/** Code length in bits of symbols 0..255 and EOS (256), from RFC 7541 Appendix B. */
// prettier-ignore
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const NODES = 256;
/** Transition entry layout: bits 0-7 the next state, then flags, bits 16-23 the emitted symbol. */
const EMIT = 0x100;
const FAIL = 0x200;
/** A second symbol, in bits 24-31. */
const EMIT2 = 0x400;

/** The canonical codes, rebuilt from the lengths: symbol → code (right-aligned in `length` bits). */
export const HUFFMAN_CODES: readonly number[] = canonicalCodes(HUFFMAN_CODE_LENGTHS);

/**
 * The decoder's tables, built by the first Huffman-coded string rather than at load: the build's
 * 65,536-step loops are hot enough for V8 to compile them with Turbofan, and the compiler's code then
 * stays resident in a sidecar that has not served anything yet (~5 MiB of RSS, docs/performance.md).
 */
let machine: { transitions: Uint32Array; accepting: Uint8Array } | undefined;

function canonicalCodes(lengths: readonly number[]): number[] {
  const order = lengths.map((_, sym) => sym).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const codes = new Array<number>(lengths.length).fill(0);
  let code = 0;
  for (let i = 0; i < order.length; i++) {
    // Multiplication, not <<: the 30-bit codes would turn negative in 32-bit shifts.
    if (i > 0) code = (code + 1) * 2 ** (lengths[order[i]] - lengths[order[i - 1]]);
    codes[order[i]] = code;
  }
  return codes;
}

function buildStateMachine(): { transitions: Uint32Array; accepting: Uint8Array } {
  // The code tree: a child is an internal node id (>= 0) or a leaf, -(symbol + 1).
  const child = [new Int16Array(NODES), new Int16Array(NODES)];
  // Depth of a node whose path from the root is all ones, else -1: only those may end a string (padding).
  const onesDepth = new Int8Array(NODES).fill(-1);
  onesDepth[0] = 0;
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = HUFFMAN_CODE_LENGTHS[sym];
    const code = HUFFMAN_CODES[sym];
    let node = 0;
    for (let bit = len - 1; bit > 0; bit--) {
      const b = Math.floor(code / 2 ** bit) & 1;
      if (child[b][node] === 0) {
        child[b][node] = nodes;
        onesDepth[nodes] = b === 1 && onesDepth[node] >= 0 ? onesDepth[node] + 1 : -1;
        nodes++;
      }
      node = child[b][node];
    }
    child[code & 1][node] = -(sym + 1);
  }
  if (nodes !== NODES) throw new Error(`Huffman tree has ${nodes} internal nodes`);

  const nibbles = new Uint32Array(NODES * 16);
  for (let state = 0; state < NODES; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const next = child[(nibble >> bit) & 1][node];
        if (next >= 0) {
          node = next;
        } else if (next === -(EOS + 1)) {
          entry = FAIL;
          break;
        } else {
          entry = EMIT | ((-next - 1) << 16);
          node = 0;
        }
      }
      nibbles[(state << 4) | nibble] = entry === FAIL ? FAIL : entry | node;
    }
  }
  // An octet can finish two codes (the end of one, then one of 5-7 bits).
  const octets = new Uint32Array(NODES * 256);
  for (let state = 0; state < NODES; state++) {
    for (let octet = 0; octet < 256; octet++) {
      const hi = nibbles[(state << 4) | (octet >> 4)];
      if (hi === FAIL) {
        octets[(state << 8) | octet] = FAIL;
        continue;
      }
      const lo = nibbles[((hi & 0xff) << 4) | (octet & 15)];
      if (lo === FAIL) {
        octets[(state << 8) | octet] = FAIL;
        continue;
      }
      let entry = lo & 0xff;
      if ((hi & EMIT) !== 0) entry |= EMIT | (hi & 0xff0000);
      if ((lo & EMIT) !== 0) entry |= (hi & EMIT) !== 0 ? EMIT2 | ((lo & 0xff0000) << 8) : EMIT | (lo & 0xff0000);
      octets[(state << 8) | octet] = entry >>> 0;
    }
  }
  const accepting = new Uint8Array(NODES);
  // A string may end at a symbol boundary or inside at most 7 bits of the EOS prefix (all ones).
  for (let node = 0; node < NODES; node++) accepting[node] = onesDepth[node] >= 0 && onesDepth[node] <= 7 ? 1 : 0;
  return { transitions: octets, accepting };
}

/**
 * Decodes the Huffman-coded octets src[start, end) into `out` (room for (end - start) * 8 / 5 octets
 * is enough) and returns their count, or -1 when the string is invalid: EOS inside it, or padding
 * longer than 7 bits or not a prefix of EOS (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const m = (machine ??= buildStateMachine());
  const t = m.transitions;
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const e = t[(state << 8) | src[i]];
    if ((e & (EMIT | FAIL)) !== 0) {
      if ((e & FAIL) !== 0) return -1;
      out[n++] = (e >>> 16) & 0xff;
      if ((e & EMIT2) !== 0) out[n++] = e >>> 24;
    }
    state = e & 0xff;
  }
  return m.accepting[state] === 1 ? n : -1;
}

/** The most octets `length` Huffman-coded octets can decode to. */
export function huffmanMaxDecoded(length: number): number {
  return Math.ceil((length * 8) / 5);
}
