/**
 * Server conformance cases: HPACK decoding of requests (RFC 7541). Each bad block is a connection
 * error COMPRESSION_ERROR (RFC 9113 §4.3) and never reaches the upstream; good blocks exercise the
 * server's dynamic table across requests and its Huffman decoder.
 */
import assert from "node:assert/strict";
import { ErrorCode, headers, hpackInt, indexed, literal, literalHuffman, literalIndexed, SettingId, tableSizeUpdate } from "../../helpers/h2-frames.js";
import { expectConnectionError, expectForwarded, expectResponse, type ServerCase, type ServerCaseContext } from "./server-kit.js";

/** A request's fields as literals without indexing. */
function literalBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(fields.map(([n, v]) => literal(n, v)));
}

/** RFC 7541 Appendix C.4.1: "www.example.com", Huffman-coded. */
const HUFF_WWW = Buffer.from("f1e3c2e5f23a6ba0ab90f4ff", "hex");
/** RFC 7541 Appendix C.4.2: "no-cache", Huffman-coded (43 bits, then 5 bits of EOS-prefix padding). */
const HUFF_NO_CACHE = Buffer.from("a8eb10649cbf", "hex");

/** A GET whose block is `before`, the request's literals, then `after`: COMPRESSION_ERROR, nothing forwarded. */
function badBlock(id: string, name: string, build: (ctx: ServerCaseContext) => [Buffer, Buffer]): ServerCase {
  return {
    id,
    name,
    async run(ctx) {
      const c = await ctx.connect();
      const [before, after] = build(ctx);
      c.send(headers(1, Buffer.concat([before, literalBlock(ctx.get()), after]), { endStream: true }));
      await expectConnectionError(c, ErrorCode.COMPRESSION_ERROR);
      await expectForwarded(ctx, 0);
    },
  };
}

const NONE = Buffer.alloc(0);

export const HPACK_CASES: readonly ServerCase[] = [
  badBlock("7541-2.3.3-index-beyond-table", "RFC 7541 §2.3.3: an indexed field beyond static + dynamic table → connection error COMPRESSION_ERROR", () => [NONE, indexed(70)]),
  badBlock("7541-2.3.3-name-index-beyond-table", "RFC 7541 §2.3.3: a literal whose name index is beyond the tables → connection error COMPRESSION_ERROR", () => [
    NONE,
    Buffer.concat([hpackInt(70, 4, 0x00), Buffer.from([1, 0x78])]),
  ]),
  badBlock("7541-4.2-size-update-too-big", "RFC 7541 §4.2/§6.3: a table size update above SETTINGS_HEADER_TABLE_SIZE (4096) → connection error COMPRESSION_ERROR", () => [
    tableSizeUpdate(4097),
    NONE,
  ]),
  badBlock("7541-4.2-size-update-late", "RFC 7541 §4.2: a table size update after a header field → connection error COMPRESSION_ERROR", () => [NONE, tableSizeUpdate(0)]),
  badBlock("7541-5.1-integer-overflow", "RFC 7541 §5.1: an index integer too large to represent → connection error COMPRESSION_ERROR", () => [
    NONE,
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
  ]),
  badBlock("7541-5.2-huffman-long-padding", "RFC 7541 §5.2: Huffman padding longer than 7 bits → connection error COMPRESSION_ERROR", () => [
    NONE,
    literalHuffman("x-host", Buffer.concat([HUFF_WWW, Buffer.from([0xff])])),
  ]),
  badBlock("7541-5.2-huffman-bad-padding", "RFC 7541 §5.2: Huffman padding that is not a prefix of EOS → connection error COMPRESSION_ERROR", () => {
    const bad = Buffer.from(HUFF_NO_CACHE);
    // Keep the last 3 code bits (101); 11110 as padding is no EOS prefix.
    bad[bad.length - 1] = 0xbe;
    return [NONE, literalHuffman("cache-control", bad)];
  }),
  badBlock("7541-5.2-huffman-eos", "RFC 7541 §5.2: a Huffman string containing EOS → connection error COMPRESSION_ERROR", () => [
    NONE,
    literalHuffman("x-eos", Buffer.from([0xff, 0xff, 0xff, 0xff])),
  ]),
  badBlock("7541-6.1-index-0", "RFC 7541 §6.1: an indexed field with index 0 → connection error COMPRESSION_ERROR", () => [NONE, indexed(0)]),
  badBlock("7541-truncated-block", "RFC 7541 §3/RFC 9113 §4.3: a header block ending inside a field → connection error COMPRESSION_ERROR", () => [
    NONE,
    literal("x-cut", "0123456789").subarray(0, 9),
  ]),
  {
    id: "7541-5.2-huffman",
    name: "RFC 7541 §5.2/C.4: Huffman-coded values are decoded and forwarded as text",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, Buffer.concat([literalBlock(ctx.get()), literalHuffman("x-host", HUFF_WWW)]), { endStream: true }));
      await expectResponse(c, 1);
      assert.equal(ctx.forwarded()[0]?.headers["x-host"], "www.example.com");
    },
  },
  {
    id: "7541-6.3-size-update-ok",
    name: "RFC 7541 §6.3: table size updates at the start of a block, within the limit, are accepted",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, Buffer.concat([tableSizeUpdate(0), tableSizeUpdate(4096), literalBlock(ctx.get())]), { endStream: true }));
      await expectResponse(c, 1);
    },
  },
  {
    id: "7541-2.3.2-dynamic-table",
    name: "RFC 7541 §2.3.2/§6.2.1: an entry indexed in one request's block is usable by index in the next request's",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, Buffer.concat([literalBlock(ctx.get("a")), literalIndexed("x-conf-table", "remembered")]), { endStream: true }));
      await expectResponse(c, 1);
      c.send(headers(3, Buffer.concat([literalBlock(ctx.get("b")), indexed(62)]), { endStream: true }));
      await expectResponse(c, 3);
      const seen = ctx.forwarded();
      assert.deepEqual(
        seen.map((s) => s.headers["x-conf-table"]),
        ["remembered", "remembered"],
      );
    },
  },
  {
    id: "7541-4.4-eviction",
    name: "RFC 7541 §4.4: after a size update to 0 and back, older entries are gone; the client's fresh indexing is decoded right",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, Buffer.concat([literalBlock(ctx.get("a")), literalIndexed("x-old", "1")]), { endStream: true }));
      await expectResponse(c, 1);
      c.send(headers(3, Buffer.concat([tableSizeUpdate(0), tableSizeUpdate(4096), literalBlock(ctx.get("b")), literalIndexed("x-new", "2"), indexed(62)]), { endStream: true }));
      await expectResponse(c, 3);
      const second = ctx.forwarded()[1];
      assert.ok(second?.headers["x-new"] !== undefined, "x-new arrived");
      assert.equal(second?.headers["x-old"], undefined, "index 62 is the new entry, the old one was evicted");
    },
  },
  {
    id: "7541-6.2.3-never-indexed",
    name: "RFC 7541 §6.2.3: a literal never-indexed field is accepted and forwarded",
    async run(ctx) {
      const c = await ctx.connect();
      const neverIndexed = Buffer.concat([Buffer.from([0x10]), hpackInt(8, 7, 0), Buffer.from("x-secret"), hpackInt(6, 7, 0), Buffer.from("s3cr3t")]);
      c.send(headers(1, Buffer.concat([literalBlock(ctx.get()), neverIndexed]), { endStream: true }));
      await expectResponse(c, 1);
      assert.equal(ctx.forwarded()[0]?.headers["x-secret"], "s3cr3t");
    },
  },
  {
    id: "7541-4.2-client-table-size-0",
    name: "RFC 7541 §4.2: after the client's SETTINGS_HEADER_TABLE_SIZE=0, the server's first block starts with a size update to 0 and no block indexes",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[SettingId.HEADER_TABLE_SIZE, 0]] });
      for (const s of [1, 3, 5]) {
        c.request(s, ctx.get(`t${s}`));
        await expectResponse(c, s);
      }
    },
  },
];
