/** Conformance cases: padding and header blocks over CONTINUATION (RFC 9113 §6.1, §6.2, §6.10). */
import assert from "node:assert/strict";
import { continuation, data, ErrorCode, Flag, frame, FrameType, headers, padded, ping, responseBlock } from "../helpers/h2-frames.js";
import { type ConformanceCase, expectClean, expectConnectionError } from "./case-kit.js";

/** A response block of about 20 KiB, which cannot fit one 16 KiB frame. */
function bigBlock(): Buffer {
  return responseBlock(200, [
    ["x-split", "a".repeat(20_000)],
    ["x-after", "1"],
  ]);
}

export const HEADER_BLOCK_CASES: readonly ConformanceCase[] = [
  {
    id: "6.1-padded-data",
    name: "RFC 9113 §6.1: padded DATA is accepted and the padding stripped",
    async run(ctx) {
      ctx.conn.send(
        headers(ctx.stream, responseBlock(200)),
        frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, ctx.stream, padded(Buffer.from("ok"), 40)),
      );
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.2-padded-headers",
    name: "RFC 9113 §6.2: padded HEADERS is accepted and the padding stripped",
    async run(ctx) {
      ctx.conn.send(
        frame(FrameType.HEADERS, Flag.PADDED | Flag.END_HEADERS, ctx.stream, padded(responseBlock(200, [["x-padded", "yes"]]), 33)),
        data(ctx.stream, Buffer.from("ok"), true),
      );
      await expectClean(ctx.call);
      assert.equal(ctx.call.responses[0]["x-padded"], "yes");
    },
  },
  {
    id: "6.2-padded-priority-headers",
    name: "RFC 9113 §6.2: HEADERS with both PADDED and PRIORITY is decoded past both",
    async run(ctx) {
      const body = Buffer.concat([Buffer.from([0, 0, 0, 0, 15]), responseBlock(200)]);
      ctx.conn.send(
        frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS, ctx.stream, padded(body, 7)),
        data(ctx.stream, Buffer.from("ok"), true),
      );
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.1-pad-too-long",
    name: "RFC 9113 §6.1: DATA whose pad length is ≥ the payload → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const payload = Buffer.concat([Buffer.from([3]), Buffer.from("ok")]);
      ctx.conn.send(headers(ctx.stream, responseBlock(200)), frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, ctx.stream, payload));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.2-pad-too-long",
    name: "RFC 9113 §6.2: HEADERS whose padding exceeds the payload → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const block = responseBlock(200);
      ctx.conn.send(frame(FrameType.HEADERS, Flag.PADDED | Flag.END_HEADERS, ctx.stream, padded(block, 2, block.length + 3)));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.10-continuation",
    name: "RFC 9113 §6.10: a header block split over HEADERS and two CONTINUATIONs is reassembled",
    async run(ctx) {
      const b = bigBlock();
      ctx.conn.send(
        headers(ctx.stream, b.subarray(0, 9000), { endHeaders: false }),
        continuation(ctx.stream, b.subarray(9000, 18_000)),
        continuation(ctx.stream, b.subarray(18_000), true),
        data(ctx.stream, Buffer.from("ok"), true),
      );
      await expectClean(ctx.call);
      assert.equal(ctx.call.responses[0]["x-split"], "a".repeat(20_000));
      assert.equal(ctx.call.responses[0]["x-after"], "1");
    },
  },
  {
    id: "6.10-continuation-end-stream",
    name: "RFC 9113 §6.10/§8.1: END_STREAM on HEADERS followed by CONTINUATION ends the response once the block is done",
    async run(ctx) {
      const b = responseBlock(200, [["x-a", "1"]]);
      ctx.conn.send(headers(ctx.stream, b.subarray(0, 5), { endStream: true, endHeaders: false }), continuation(ctx.stream, b.subarray(5), true));
      await expectClean(ctx.call, 200, "");
      assert.equal(ctx.call.responses[0]["x-a"], "1");
    },
  },
  {
    id: "6.10-continuation-without-headers",
    name: "RFC 9113 §6.10: CONTINUATION without a preceding HEADERS → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(continuation(ctx.stream, responseBlock(200), true));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.10-continuation-after-end-headers",
    name: "RFC 9113 §6.10: CONTINUATION after HEADERS with END_HEADERS → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200)), continuation(ctx.stream, responseBlock(200).subarray(1), true));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.10-interleaved-data",
    name: "RFC 9113 §6.10: DATA between HEADERS and its CONTINUATION → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const b = bigBlock();
      ctx.conn.send(
        headers(ctx.stream, b.subarray(0, 9000), { endHeaders: false }),
        data(ctx.stream, Buffer.from("early")),
        continuation(ctx.stream, b.subarray(9000), true),
      );
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.10-interleaved-ping",
    name: "RFC 9113 §6.10: PING on stream 0 between HEADERS and its CONTINUATION → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const b = bigBlock();
      ctx.conn.send(headers(ctx.stream, b.subarray(0, 9000), { endHeaders: false }), ping(Buffer.from("between!")), continuation(ctx.stream, b.subarray(9000), true));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.10-continuation-other-stream",
    name: "RFC 9113 §6.10: CONTINUATION on another stream than its HEADERS → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const b = bigBlock();
      ctx.conn.send(headers(ctx.stream, b.subarray(0, 9000), { endHeaders: false }), continuation(ctx.stream + 2, b.subarray(9000), true));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
];
