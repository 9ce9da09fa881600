/**
 * Server conformance cases: frame format and size, extensibility, DATA and HEADERS framing (padding,
 * the PRIORITY block), PRIORITY, and CONTINUATION (RFC 9113 §4, §5.3.1, §5.5, §6.1-§6.3, §6.10).
 */
import assert from "node:assert/strict";
import {
  continuation,
  data,
  ErrorCode,
  Flag,
  frame,
  frameRawId,
  FrameType,
  headers,
  literal,
  padded,
  ping,
  priority,
} from "../../helpers/h2-frames.js";
import type { ClientConn } from "./client-conn.js";
import {
  expectConnectionError,
  expectForwarded,
  expectNoneComplete,
  expectNoReaction,
  expectResponse,
  expectStreamError,
  expectUsable,
  type ServerCase,
  type ServerCaseContext,
} from "./server-kit.js";

/** A request's fields as literals without indexing (for blocks cut by hand; the tables stay untouched). */
function literalBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(fields.map(([n, v]) => literal(n, v)));
}

/** HEADERS with the PRIORITY flag: exclusive bit clear, `dependsOn`, weight 16. */
function headersWithPriority(streamId: number, dependsOn: number, block: Buffer, endStream = true): Buffer {
  const p = Buffer.alloc(5);
  p.writeUInt32BE(dependsOn, 0);
  p.writeUInt8(15, 4);
  return frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PRIORITY | (endStream ? Flag.END_STREAM : 0), streamId, Buffer.concat([p, block]));
}

/** A connection error `code` for whatever `send` writes after the handshake; nothing forwarded. */
function connectionError(id: string, name: string, code: number, send: (c: ClientConn, ctx: ServerCaseContext) => void, forwarded = 0): ServerCase {
  return {
    id,
    name,
    async run(ctx) {
      const c = await ctx.connect();
      send(c, ctx);
      await expectConnectionError(c, code);
      await expectForwarded(ctx, forwarded, 0);
    },
  };
}

/** The first half of a header block on `streamId` (no END_HEADERS), and the rest for a CONTINUATION. */
function splitBlock(ctx: ServerCaseContext): [Buffer, Buffer] {
  const block = literalBlock(ctx.get());
  return [block.subarray(0, 10), block.subarray(10)];
}

export const FRAME_CASES: readonly ServerCase[] = [
  {
    id: "4.1-unknown-type",
    name: "RFC 9113 §4.1/§5.5: frames of an unknown type, on stream 0 and on an open stream, are ignored",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())));
      c.send(frame(0xfa, 0xff, 0, Buffer.from("extension")), frame(0xfb, 0xff, 1, Buffer.from("ext")));
      await expectNoReaction(c);
      c.send(c.dataFrame(1, Buffer.from("body"), true));
      await expectResponse(c, 1, 200, "body");
    },
  },
  {
    id: "4.1-unknown-flags",
    name: "RFC 9113 §4.1: unknown flags are ignored: a PING with them is ACKed, a HEADERS with them is served",
    async run(ctx) {
      const c = await ctx.connect();
      const payload = Buffer.from("flagsfl!");
      c.send(frame(FrameType.PING, 0xfe, 0, payload));
      const ack = await c.frame(FrameType.PING, 0, (f) => f.payload.equals(payload));
      assert.equal(ack.flags, Flag.ACK, "the ACK has only the ACK flag");
      c.send(frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS | 0x2 | 0x10 | 0x40 | 0x80, 1, c.block(ctx.get())));
      await expectResponse(c, 1);
    },
  },
  {
    id: "4.1-reserved-bit",
    name: "RFC 9113 §4.1: the reserved bit of the stream identifier is ignored on receipt",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frameRawId(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 0x80000001, c.block(ctx.get())));
      await expectResponse(c, 1);
    },
  },
  {
    id: "4.2-data-max-frame-size",
    name: "RFC 9113 §4.2: a DATA frame of exactly SETTINGS_MAX_FRAME_SIZE (16384) is accepted and forwarded whole",
    async run(ctx) {
      const c = await ctx.connect();
      const body = Buffer.alloc(16_384, 0x71);
      c.request(1, ctx.post(), body);
      await expectResponse(c, 1, 200, body);
    },
  },
  {
    id: "4.2-data-too-big",
    name: "RFC 9113 §4.2: DATA larger than SETTINGS_MAX_FRAME_SIZE → FRAME_SIZE_ERROR; the request never completes upstream",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("bad"))), data(1, Buffer.alloc(16_385, 0x71), true));
      await expectStreamError(c, 1, ErrorCode.FRAME_SIZE_ERROR);
      await expectNoneComplete(ctx);
    },
  },
  connectionError(
    "4.2-headers-too-big",
    "RFC 9113 §4.2: HEADERS larger than SETTINGS_MAX_FRAME_SIZE → connection error FRAME_SIZE_ERROR",
    ErrorCode.FRAME_SIZE_ERROR,
    (c, ctx) => c.send(headers(1, Buffer.concat([literalBlock(ctx.get()), literal("x-big", "a".repeat(16_400))]), { endStream: true })),
  ),
  connectionError(
    "4.3-invalid-header-block",
    "RFC 9113 §4.3: a header block that cannot be decompressed → connection error COMPRESSION_ERROR",
    ErrorCode.COMPRESSION_ERROR,
    (c, ctx) => c.send(headers(1, Buffer.concat([literalBlock(ctx.get()), literal("x-cut", "0123456789").subarray(0, 9)]), { endStream: true })),
  ),
  connectionError(
    "5.5-unknown-in-header-block",
    "RFC 9113 §5.5/§6.10: a frame of unknown type inside a header block → connection error PROTOCOL_ERROR",
    ErrorCode.PROTOCOL_ERROR,
    (c, ctx) => {
      const [head, rest] = splitBlock(ctx);
      c.send(headers(1, head, { endStream: true, endHeaders: false }), frame(0xfa, 0, 1, Buffer.from("ext")), continuation(1, rest, true));
    },
  ),
  {
    id: "5.3.1-headers-self-dependency",
    name: "RFC 9113 §5.3.1: HEADERS whose priority block makes the stream depend on itself → stream error PROTOCOL_ERROR; not forwarded",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headersWithPriority(1, 1, literalBlock(ctx.get("bad"))));
      const kind = await expectStreamError(c, 1, ErrorCode.PROTOCOL_ERROR);
      if (kind === "rst") await expectUsable(ctx, c, 3);
      await expectForwarded(ctx, kind === "rst" ? 1 : 0);
    },
  },
  {
    id: "5.3.1-priority-self-dependency",
    name: "RFC 9113 §5.3.1: PRIORITY making a stream depend on itself → stream error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(priority(1, 1));
      const kind = await expectStreamError(c, 1, ErrorCode.PROTOCOL_ERROR);
      if (kind === "rst") await expectUsable(ctx, c, 3);
    },
  },
  {
    id: "6.1-padded-data",
    name: "RFC 9113 §6.1: padded DATA is accepted and only its data is forwarded",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, padded(Buffer.from("padded body"), 20)));
      await expectResponse(c, 1, 200, "padded body");
    },
  },
  {
    id: "6.1-empty-data-end-stream",
    name: "RFC 9113 §6.1: an empty DATA frame carrying END_STREAM ends the request",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), data(1, Buffer.alloc(0), true));
      await expectResponse(c, 1);
      await expectForwarded(ctx, 1);
    },
  },
  connectionError("6.1-data-stream-0", "RFC 9113 §6.1: DATA on stream 0 → connection error PROTOCOL_ERROR", ErrorCode.PROTOCOL_ERROR, (c) =>
    c.send(data(0, Buffer.from("nowhere"))),
  ),
  {
    id: "6.1-pad-too-long",
    name: "RFC 9113 §6.1: DATA whose pad length is ≥ the payload → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("bad"))), frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, padded(Buffer.from("abc"), 2, 10)));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
      await expectNoneComplete(ctx);
    },
  },
  {
    id: "6.2-padded-headers",
    name: "RFC 9113 §6.2: padded HEADERS are accepted and the padding stripped",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frame(FrameType.HEADERS, Flag.PADDED | Flag.END_HEADERS | Flag.END_STREAM, 1, padded(c.block(ctx.get()), 16)));
      await expectResponse(c, 1);
    },
  },
  {
    id: "6.2-priority-flag",
    name: "RFC 9113 §6.2: HEADERS with the PRIORITY flag are decoded past its 5 bytes",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headersWithPriority(1, 0, c.block(ctx.get())));
      await expectResponse(c, 1);
    },
  },
  connectionError("6.2-headers-stream-0", "RFC 9113 §6.2: HEADERS on stream 0 → connection error PROTOCOL_ERROR", ErrorCode.PROTOCOL_ERROR, (c, ctx) =>
    c.send(headers(0, literalBlock(ctx.get()), { endStream: true })),
  ),
  connectionError("6.2-pad-too-long", "RFC 9113 §6.2: HEADERS whose padding exceeds the payload → connection error PROTOCOL_ERROR", ErrorCode.PROTOCOL_ERROR, (c, ctx) =>
    c.send(frame(FrameType.HEADERS, Flag.PADDED | Flag.END_HEADERS | Flag.END_STREAM, 1, padded(literalBlock(ctx.get()), 0, 255))),
  ),
  {
    id: "6.3-priority-idle",
    name: "RFC 9113 §6.3: PRIORITY on an idle stream is accepted; that stream can still be opened",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(priority(3, 0, 200), priority(5, 3, 1));
      await expectNoReaction(c);
      c.request(1, ctx.get("a"));
      await expectResponse(c, 1);
      c.request(3, ctx.get("b"));
      await expectResponse(c, 3);
    },
  },
  connectionError("6.3-priority-stream-0", "RFC 9113 §6.3: PRIORITY on stream 0 → connection error PROTOCOL_ERROR", ErrorCode.PROTOCOL_ERROR, (c) => c.send(priority(0, 1))),
  {
    id: "6.3-priority-length",
    name: "RFC 9113 §6.3: PRIORITY with a length other than 5 → stream error FRAME_SIZE_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("bad"))), frame(FrameType.PRIORITY, 0, 1, Buffer.alloc(4)));
      await expectStreamError(c, 1, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.10-continuation",
    name: "RFC 9113 §6.10: a header block split over HEADERS and two CONTINUATIONs is reassembled",
    async run(ctx) {
      const c = await ctx.connect();
      const block = c.block(ctx.get("cont", [["x-filler", "f".repeat(40)]]));
      c.send(headers(1, block.subarray(0, 5), { endStream: true, endHeaders: false }), continuation(1, block.subarray(5, 20)), continuation(1, block.subarray(20), true));
      await expectResponse(c, 1);
      await expectForwarded(ctx, 1);
    },
  },
  connectionError("6.10-interleaved-data", "RFC 9113 §6.10: DATA between HEADERS and its CONTINUATION → connection error PROTOCOL_ERROR", ErrorCode.PROTOCOL_ERROR, (c, ctx) => {
    const [head, rest] = splitBlock(ctx);
    c.send(headers(1, head, { endHeaders: false }), data(1, Buffer.from("x")), continuation(1, rest, true));
  }),
  connectionError(
    "6.10-interleaved-priority",
    "RFC 9113 §6.10: PRIORITY between HEADERS and its CONTINUATION → connection error PROTOCOL_ERROR",
    ErrorCode.PROTOCOL_ERROR,
    (c, ctx) => {
      const [head, rest] = splitBlock(ctx);
      c.send(headers(1, head, { endStream: true, endHeaders: false }), priority(1, 0), continuation(1, rest, true));
    },
  ),
  connectionError("6.10-interleaved-ping", "RFC 9113 §6.10: PING between HEADERS and its CONTINUATION → connection error PROTOCOL_ERROR", ErrorCode.PROTOCOL_ERROR, (c, ctx) => {
    const [head, rest] = splitBlock(ctx);
    c.send(headers(1, head, { endStream: true, endHeaders: false }), ping(Buffer.alloc(8)), continuation(1, rest, true));
  }),
  connectionError(
    "6.10-interleaved-headers",
    "RFC 9113 §6.10: HEADERS of another stream between HEADERS and its CONTINUATION → connection error PROTOCOL_ERROR",
    ErrorCode.PROTOCOL_ERROR,
    (c, ctx) => {
      const [head, rest] = splitBlock(ctx);
      c.send(headers(1, head, { endStream: true, endHeaders: false }), headers(3, literalBlock(ctx.get("b")), { endStream: true }), continuation(1, rest, true));
    },
  ),
  connectionError(
    "6.10-continuation-other-stream",
    "RFC 9113 §6.10: CONTINUATION on another stream than its HEADERS → connection error PROTOCOL_ERROR",
    ErrorCode.PROTOCOL_ERROR,
    (c, ctx) => {
      const [head, rest] = splitBlock(ctx);
      c.send(headers(1, head, { endStream: true, endHeaders: false }), continuation(3, rest, true));
    },
  ),
  connectionError("6.10-continuation-stream-0", "RFC 9113 §6.10: CONTINUATION on stream 0 → connection error PROTOCOL_ERROR", ErrorCode.PROTOCOL_ERROR, (c, ctx) => {
    const [head, rest] = splitBlock(ctx);
    c.send(headers(1, head, { endStream: true, endHeaders: false }), continuation(0, rest, true));
  }),
  connectionError(
    "6.10-continuation-idle",
    "RFC 9113 §5.1/§6.10: CONTINUATION without a preceding HEADERS (idle stream) → connection error PROTOCOL_ERROR",
    ErrorCode.PROTOCOL_ERROR,
    (c, ctx) => c.send(continuation(1, literalBlock(ctx.get()), true)),
  ),
  {
    id: "6.10-continuation-after-end-headers",
    name: "RFC 9113 §6.10: CONTINUATION after HEADERS with END_HEADERS → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), continuation(1, literal("x-late", "1"), true));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.10-continuation-after-end-continuation",
    name: "RFC 9113 §6.10: CONTINUATION after a CONTINUATION with END_HEADERS → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      const [head, rest] = splitBlock(ctx);
      c.send(headers(1, head, { endHeaders: false }), continuation(1, rest, true), continuation(1, literal("x-late", "1"), true));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.10-continuation-after-data",
    name: "RFC 9113 §6.10: CONTINUATION after a DATA frame → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), c.dataFrame(1, Buffer.from("x")), continuation(1, literal("x-late", "1"), true));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
];
