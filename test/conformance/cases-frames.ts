/** Conformance cases: frame format and size, extensibility, PRIORITY (RFC 9113 §4.1, §4.2, §5.5, §6.3). */
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
  ping,
  priority,
  responseBlock,
  SettingId,
} from "../helpers/h2-frames.js";
import { type CaseContext, type ConformanceCase, expectClean, expectConnectionError, expectStreamError, expectTolerated } from "./case-kit.js";

const UNKNOWN_TYPE = 0xfa;

/** The client's SETTINGS_MAX_FRAME_SIZE: the largest frame payload it accepts. */
function clientMaxFrame(ctx: CaseContext): number {
  return ctx.conn.clientSettings?.get(SettingId.MAX_FRAME_SIZE) ?? 16_384;
}

/** Lets the bytes written so far arrive as their own TCP read before more follow (nodelay peer). */
function separateRead(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 15));
}

export const FRAME_CASES: readonly ConformanceCase[] = [
  {
    id: "4.1-frames-cut-across-reads",
    name: "RFC 9113 §4.1: frames cut anywhere across TCP reads (inside a header, a HEADERS payload, a DATA payload with END_STREAM) are reassembled",
    async run(ctx) {
      const body = Buffer.alloc(40_000, 0x61);
      const wire = Buffer.concat([
        headers(ctx.stream, responseBlock(200, [["content-length", String(body.length)]])),
        data(ctx.stream, body.subarray(0, 16_384)),
        data(ctx.stream, body.subarray(16_384, 32_768)),
        data(ctx.stream, body.subarray(32_768), true),
      ]);
      // Cuts: inside the first frame header, inside the HEADERS payload, inside the 2nd DATA header,
      // three inside DATA payloads (the last one within the END_STREAM frame).
      const cuts = [4, 12, 16_400, 20_000, 33_000, wire.length - 7];
      let at = 0;
      for (const cut of cuts) {
        ctx.conn.send(wire.subarray(at, cut));
        at = cut;
        await separateRead();
      }
      ctx.conn.send(wire.subarray(at));
      await ctx.call.closed();
      assert.ok(ctx.call.clean, `clean end (${ctx.call.describe()})`);
      assert.equal(ctx.call.body, body.toString("latin1"), "every body byte, once, in order");
    },
  },
  {
    id: "4.1-unknown-type-conn",
    name: "RFC 9113 §4.1/§5.5: a frame of unknown type on stream 0 is ignored",
    async run(ctx) {
      ctx.conn.send(frame(UNKNOWN_TYPE, 0, 0, Buffer.from("ignore me")));
      await expectTolerated(ctx);
    },
  },
  {
    id: "4.1-unknown-type-stream",
    name: "RFC 9113 §4.1/§5.5: a frame of unknown type, with every flag set, on an open stream is ignored",
    async run(ctx) {
      ctx.conn.send(frame(UNKNOWN_TYPE, 0xff, ctx.stream, Buffer.from("ignore me")));
      await expectTolerated(ctx);
    },
  },
  {
    id: "4.1-unknown-flags-ping",
    name: "RFC 9113 §4.1: unknown flags on PING are ignored: it is still answered with an ACK",
    async run(ctx) {
      const payload = Buffer.from("flagged!");
      ctx.conn.send(frame(FrameType.PING, 0xf0, 0, payload));
      const ack = await ctx.conn.until(
        () => ctx.conn.frames.find((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(payload)),
        "PING ACK",
      );
      assert.equal(ack.streamId, 0);
      await expectTolerated(ctx);
    },
  },
  {
    id: "4.1-unknown-flags-headers-data",
    name: "RFC 9113 §4.1: unknown flags on a response's HEADERS and DATA are ignored",
    async run(ctx) {
      ctx.conn.send(
        frame(FrameType.HEADERS, Flag.END_HEADERS | 0xd2, ctx.stream, responseBlock(200)),
        frame(FrameType.DATA, Flag.END_STREAM | 0xe6, ctx.stream, Buffer.from("ok")),
      );
      await expectClean(ctx.call);
    },
  },
  {
    id: "4.1-reserved-bit",
    name: "RFC 9113 §4.1: the reserved bit of the stream identifier is ignored on receipt",
    async run(ctx) {
      const id = (0x80000000 | ctx.stream) >>> 0;
      ctx.conn.send(headers(ctx.stream, responseBlock(200)), frameRawId(FrameType.DATA, Flag.END_STREAM, id, Buffer.from("ok")));
      await expectClean(ctx.call);
    },
  },
  {
    id: "4.2-data-too-big",
    name: "RFC 9113 §4.2: DATA larger than the client's SETTINGS_MAX_FRAME_SIZE → FRAME_SIZE_ERROR",
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200)), data(ctx.stream, Buffer.alloc(clientMaxFrame(ctx) + 1, 0x61)));
      await expectStreamError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "4.2-headers-too-big",
    name: "RFC 9113 §4.2: HEADERS larger than SETTINGS_MAX_FRAME_SIZE → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      const filler = "x".repeat(clientMaxFrame(ctx));
      ctx.conn.send(headers(ctx.stream, Buffer.concat([responseBlock(200), literal("x-filler", filler)]), { endStream: true }));
      await expectConnectionError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "4.2-client-frame-size",
    name: "RFC 9113 §4.2: the client's frames never exceed the peer's SETTINGS_MAX_FRAME_SIZE (16384)",
    request: { endStream: false },
    async run(ctx) {
      const { conn } = ctx;
      await conn.settingsAcked(1);
      await ctx.call.sendBody(Buffer.alloc(40_000, 0x62));
      await conn.until(() => (conn.endedStreams.has(ctx.stream) ? true : undefined), "request END_STREAM");
      assert.equal(conn.received.get(ctx.stream), 40_000, "whole body");
      const big = conn.frames.filter((f) => f.payload.length > 16_384);
      assert.deepEqual(big.map((f) => `type ${f.type}: ${f.payload.length}`), []);
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
  {
    id: "5.5-unknown-in-header-block",
    name: "RFC 9113 §5.5/§6.10: an unknown frame inside a header block → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const block = responseBlock(200, [["x-a", "1"]]);
      ctx.conn.send(
        headers(ctx.stream, block.subarray(0, 4), { endHeaders: false }),
        frame(UNKNOWN_TYPE, 0, ctx.stream, Buffer.from("x")),
        continuation(ctx.stream, block.subarray(4), true),
      );
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.3-priority-ignored",
    name: "RFC 9113 §6.3: PRIORITY on the open stream and on an idle stream is accepted",
    async run(ctx) {
      ctx.conn.send(priority(ctx.stream, 0, 200), priority(ctx.stream + 100, 0, 1));
      await expectTolerated(ctx);
    },
  },
  {
    id: "6.3-priority-length",
    name: "RFC 9113 §6.3: PRIORITY with a length other than 5 → stream error FRAME_SIZE_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.PRIORITY, 0, ctx.stream, Buffer.alloc(4)));
      await expectStreamError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.3-priority-stream-0",
    name: "RFC 9113 §6.3: PRIORITY on stream 0 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.PRIORITY, 0, 0, Buffer.alloc(5)));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "7540-5.3.1-priority-self",
    name: "RFC 7540 §5.3.1 (priority signals RFC 9113 §5.3.2 still parses): a stream depending on itself → stream error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(priority(ctx.stream, ctx.stream, 15));
      await expectStreamError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.2-headers-priority-flag",
    name: "RFC 9113 §6.2: response HEADERS with the PRIORITY flag and its 5 bytes is decoded past them",
    async run(ctx) {
      const prio = Buffer.from([0, 0, 0, 0, 15]);
      ctx.conn.send(
        frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PRIORITY, ctx.stream, Buffer.concat([prio, responseBlock(200)])),
        data(ctx.stream, Buffer.from("ok"), true),
      );
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.7-ping-flagged-ack-ignored",
    name: "RFC 9113 §6.7: a PING with ACK set is not answered",
    async run(ctx) {
      const stray = Buffer.from("not-ours");
      ctx.conn.send(ping(stray, true));
      await expectTolerated(ctx);
      const answered = ctx.conn.frames.filter((f) => f.type === FrameType.PING && f.payload.equals(stray));
      assert.equal(answered.length, 0, "no PING echoing the ACK's payload");
    },
  },
];
