/**
 * HPACK micro-benchmark for issue #9: µs per header block, the hpack.js-based coder we had
 * (test/bench/hpack-old.ts) versus our own (src/h2/hpack.ts). Not a test; `npm run bench:hpack`.
 *
 * Shapes, as a gRPC unary call puts them on one connection: the request block (per-call x-request-id,
 * grpc-timeout and traceparent, the rest repeated), the response header block and the trailers.
 * Encoding runs one encoder per shape over BLOCKS different header records, cycled. Decoding runs a
 * fresh decoder over the same sequence of BLOCKS blocks per pass (the dynamic table must follow the
 * sender's), twice: blocks as a peer sends them (every literal Huffman-coded: the old encoder's output,
 * like nghttp2's or grpc-js's) and blocks as our encoder sends them (raw literals). Rounds interleave
 * old and new; the median is reported.
 */
import type { OutgoingHttpHeaders } from "node:http2";
import { HpackDecoder, HpackEncoder } from "../../src/h2/hpack.js";
import { HpackDecoder as OldDecoder, HpackEncoder as OldEncoder } from "./hpack-old.js";

const N = Number(process.env.N ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BLOCKS = 1000;

interface Encoder {
  encode(h: OutgoingHttpHeaders, scheme: string, authority: string): Buffer;
  encodeResponse(h: OutgoingHttpHeaders): Buffer;
}
interface Decoder {
  decode(block: Buffer, fields: string[], limit?: number): number;
}
interface Impl {
  readonly name: string;
  encoder(): Encoder;
  decoder(): Decoder;
}

const IMPLS: readonly Impl[] = [
  { name: "hpack.js", encoder: () => new OldEncoder(), decoder: () => new OldDecoder() },
  { name: "own", encoder: () => new HpackEncoder(), decoder: () => new HpackDecoder() },
];

/** `n`'s low 32 bits in hex, padded to `width` digits: distinct ids of one length per block. */
function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).padStart(width, "0");
}

const requests: OutgoingHttpHeaders[] = [];
for (let i = 0; i < BLOCKS; i++) {
  requests.push({
    ":method": "POST",
    ":path": "/echo.Echo/Unary",
    "content-type": "application/grpc",
    te: "trailers",
    "user-agent": "grpc-node-js/1.14.7",
    "grpc-accept-encoding": "identity,deflate,gzip",
    "accept-encoding": "identity",
    "grpc-timeout": `${9990 - (i % 50)}m`,
    "x-request-id": `${hex(i * 2654435761, 8)}-1b2c-4d3e-8f90-${hex(i * 40503, 12)}`,
    traceparent: `00-${hex(i * 2246822519, 8)}${hex(i * 3266489917, 8)}${hex(i, 16)}-${hex(i * 668265263, 8)}${hex(i, 8)}-01`,
  });
}
const response: OutgoingHttpHeaders = { ":status": "200", "content-type": "application/grpc", "grpc-accept-encoding": "identity,deflate,gzip", "grpc-encoding": "identity" };
const trailers: OutgoingHttpHeaders = { "grpc-status": "0", "grpc-message": "" };

type Shape = "request" | "response" | "trailers";
const SHAPES: readonly Shape[] = ["request", "response", "trailers"];

function encodeOne(enc: Encoder, shape: Shape, i: number): Buffer {
  if (shape === "request") return enc.encode(requests[i % BLOCKS], "http", "echo.default.svc:50051");
  return enc.encodeResponse(shape === "response" ? response : trailers);
}

/** A connection's worth of blocks from `impl`'s encoder, copied (our encoder hands out views). */
function blocksFrom(impl: Impl, shape: Shape): Buffer[] {
  const enc = impl.encoder();
  const out: Buffer[] = [];
  for (let i = 0; i < BLOCKS; i++) out.push(Buffer.from(encodeOne(enc, shape, i)));
  return out;
}

let sink = 0;

function timeEncode(impl: Impl, shape: Shape): number {
  const enc = impl.encoder();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += encodeOne(enc, shape, i).length;
  return Number(process.hrtime.bigint() - t0) / 1000 / N;
}

function timeDecode(impl: Impl, blocks: readonly Buffer[]): number {
  const fields: string[] = [];
  let dec = impl.decoder();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const j = i % BLOCKS;
    if (j === 0) dec = impl.decoder();
    fields.length = 0;
    sink += dec.decode(blocks[j], fields);
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / N;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const huffman = new Map(SHAPES.map((s) => [s, blocksFrom(IMPLS[0], s)]));
const raw = new Map(SHAPES.map((s) => [s, blocksFrom(IMPLS[1], s)]));
const rows: Array<{ what: string; run: (impl: Impl) => number }> = [];
for (const shape of SHAPES) {
  rows.push({ what: `encode ${shape}`, run: (impl) => timeEncode(impl, shape) });
  rows.push({ what: `decode ${shape} (Huffman, peer-like)`, run: (impl) => timeDecode(impl, huffman.get(shape) ?? []) });
  rows.push({ what: `decode ${shape} (raw, our encoder's)`, run: (impl) => timeDecode(impl, raw.get(shape) ?? []) });
}

const avgBytes = (bs: readonly Buffer[]): string => (bs.reduce((s, b) => s + b.length, 0) / bs.length).toFixed(1);
console.log(`HPACK micro-benchmark: N=${N} blocks per measurement, ${ROUNDS} rounds (+1 warm-up), median µs per block`);
for (const shape of SHAPES) console.log(`  ${shape}: ${avgBytes(huffman.get(shape) ?? [])} B/block Huffman (hpack.js), ${avgBytes(raw.get(shape) ?? [])} B/block raw (own)`);
const results = rows.map(() => IMPLS.map((): number[] => []));
for (let round = 0; round <= ROUNDS; round++) {
  rows.forEach((row, r) => {
    IMPLS.forEach((impl, k) => {
      const us = row.run(impl);
      if (round > 0) results[r][k].push(us);
    });
  });
}
console.log(`${"".padEnd(42)}${IMPLS.map((i) => i.name.padStart(10)).join("")}   ratio`);
rows.forEach((row, r) => {
  const [old, own] = results[r].map(median);
  console.log(`${row.what.padEnd(42)}${old.toFixed(3).padStart(10)}${own.toFixed(3).padStart(10)}   ${(old / own).toFixed(1)}x`);
});
if (sink === -1) console.log("");
