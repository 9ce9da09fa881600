/** Conformance cases: HPACK decoding of responses and the client's encoder state (RFC 7541). */
import assert from "node:assert/strict";
import {
  data,
  ErrorCode,
  Flag,
  FrameType,
  headers,
  hpackInt,
  indexed,
  literal,
  literalHuffman,
  literalIndexed,
  responseBlock,
  SettingId,
  tableSizeUpdate,
} from "../helpers/h2-frames.js";
import { type CaseContext, type ConformanceCase, expectClean, expectConnectionError } from "./case-kit.js";

/** Sends a response whose header block is `block`, then "ok" with END_STREAM. */
function respondWith(ctx: CaseContext, block: Buffer, stream = ctx.stream): void {
  ctx.conn.send(headers(stream, block), data(stream, Buffer.from("ok"), true));
}

/** The client's SETTINGS_HEADER_TABLE_SIZE: the most its decoder accepts. */
function clientTableSize(ctx: CaseContext): number {
  return ctx.conn.clientSettings?.get(SettingId.HEADER_TABLE_SIZE) ?? 4096;
}

/** RFC 7541 Appendix C.4.1: "www.example.com", Huffman-coded. */
const HUFF_WWW = Buffer.from("f1e3c2e5f23a6ba0ab90f4ff", "hex");
/** RFC 7541 Appendix C.4.2: "no-cache", Huffman-coded (43 bits, then 5 bits of EOS-prefix padding). */
const HUFF_NO_CACHE = Buffer.from("a8eb10649cbf", "hex");

export const HPACK_CASES: readonly ConformanceCase[] = [
  {
    id: "7541-6.1-index-0",
    name: "RFC 7541 §6.1: indexed field with index 0 → connection error COMPRESSION_ERROR",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), indexed(0)]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-2.3.3-index-beyond-table",
    name: "RFC 7541 §2.3.3: an index beyond static + dynamic table → connection error COMPRESSION_ERROR",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), indexed(70)]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-5.1-integer-overflow",
    name: "RFC 7541 §5.1: an index integer too large to represent → connection error COMPRESSION_ERROR",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-4.2-size-update-too-big",
    name: "RFC 7541 §4.2/§6.3: a table size update above the client's SETTINGS_HEADER_TABLE_SIZE → COMPRESSION_ERROR",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([tableSizeUpdate(clientTableSize(ctx) + 1), responseBlock(200)]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-4.2-size-update-late",
    name: "RFC 7541 §4.2: a table size update after a header field → connection error COMPRESSION_ERROR",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), tableSizeUpdate(0)]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-6.3-size-update-ok",
    name: "RFC 7541 §6.3: table size updates at the start of a block, within the limit, are accepted",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([tableSizeUpdate(0), tableSizeUpdate(256), responseBlock(200)]));
      await expectClean(ctx.call);
    },
  },
  {
    id: "7541-5.2-huffman",
    name: "RFC 7541 §5.2/C.4: Huffman-coded values are decoded",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), literalHuffman("x-host", HUFF_WWW), literalHuffman("cache-control", HUFF_NO_CACHE)]));
      await expectClean(ctx.call);
      assert.equal(ctx.call.responses[0]["x-host"], "www.example.com");
      assert.equal(ctx.call.responses[0]["cache-control"], "no-cache");
    },
  },
  {
    id: "7541-5.2-huffman-long-padding",
    name: "RFC 7541 §5.2: Huffman padding longer than 7 bits → connection error COMPRESSION_ERROR",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), literalHuffman("x-host", Buffer.concat([HUFF_WWW, Buffer.from([0xff])]))]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-5.2-huffman-bad-padding",
    name: "RFC 7541 §5.2: Huffman padding that is not a prefix of EOS → connection error COMPRESSION_ERROR",
    async run(ctx) {
      const bad = Buffer.from(HUFF_NO_CACHE);
      // Keep the last 3 code bits (101); 11110 as padding is no EOS prefix ("00000" would decode as '0').
      bad[bad.length - 1] = 0xbe;
      respondWith(ctx, Buffer.concat([responseBlock(200), literalHuffman("cache-control", bad)]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-5.2-huffman-eos",
    name: "RFC 7541 §5.2: a Huffman string containing EOS → connection error COMPRESSION_ERROR",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), literalHuffman("x-eos", Buffer.from([0xff, 0xff, 0xff, 0xff]))]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-truncated-block",
    name: "RFC 7541 §3/RFC 9113 §4.3: a header block ending inside a field → connection error COMPRESSION_ERROR",
    async run(ctx) {
      const cut = literal("x-cut", "0123456789").subarray(0, 9);
      respondWith(ctx, Buffer.concat([responseBlock(200), cut]));
      await expectConnectionError(ctx, ErrorCode.COMPRESSION_ERROR);
    },
  },
  {
    id: "7541-2.3.2-dynamic-table",
    name: "RFC 7541 §2.3.2/§6.2.1: an entry indexed in one response's block is usable in the next response's",
    async run(ctx) {
      respondWith(ctx, Buffer.concat([responseBlock(200), literalIndexed("x-dyn", "v1")]));
      await expectClean(ctx.call);
      assert.equal(ctx.call.responses[0]["x-dyn"], "v1");
      const second = ctx.open();
      const s2 = await ctx.conn.nextRequest();
      // Static index 8 is ":status: 200"; 62 is the newest dynamic entry.
      respondWith(ctx, Buffer.concat([indexed(8), indexed(62)]), s2);
      await expectClean(second);
      assert.equal(second.responses[0]["x-dyn"], "v1");
    },
  },
  {
    id: "7541-4.2-encoder-size-update",
    name: "RFC 7541 §4.2: after the peer's SETTINGS_HEADER_TABLE_SIZE=0, the client's next header block starts with a size update to 0",
    settings: [[SettingId.HEADER_TABLE_SIZE, 0]],
    async run(ctx) {
      const { conn } = ctx;
      await conn.settingsAcked(1);
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
      const ackAt = conn.frames.findIndex((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0);
      const firstAfter = (): Buffer | undefined => {
        const f = conn.frames.slice(ackAt + 1).find((fr) => fr.type === FrameType.HEADERS);
        if (f === undefined) return undefined;
        // Skip the pad length and priority fields, if present, to reach the header block.
        const start = ((f.flags & Flag.PADDED) !== 0 ? 1 : 0) + ((f.flags & Flag.PRIORITY) !== 0 ? 5 : 0);
        return f.payload.subarray(start);
      };
      let block = firstAfter();
      if (block === undefined) {
        const second = ctx.open();
        const s2 = await conn.nextRequest();
        conn.respond(s2);
        await expectClean(second);
        block = firstAfter();
      }
      assert.ok(block !== undefined);
      assert.ok(block.length > 0 && block.subarray(0, 1).equals(hpackInt(0, 5, 0x20)), `block starts with a size update to 0 (first byte 0x${block[0]?.toString(16)})`);
    },
  },
];
