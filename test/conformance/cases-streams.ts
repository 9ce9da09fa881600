/**
 * Conformance cases: stream states, RST_STREAM, PUSH_PROMISE, PING and GOAWAY (RFC 9113 §5.1, §6.4,
 * §6.6, §6.7, §6.8), including what the pool does with refused streams and a draining connection.
 */
import assert from "node:assert/strict";
import {
  data,
  ErrorCode,
  Flag,
  frame,
  FrameType,
  goaway,
  headers,
  ping,
  pushPromise,
  requestBlock,
  responseBlock,
  rstStream,
  SettingId,
} from "../helpers/h2-frames.js";
import { pollUntil } from "../helpers/util.js";
import { type ConformanceCase, expectClean, expectConnectionError, expectReset, expectStreamErrorOnWire } from "./case-kit.js";
import { WAIT_MS } from "./peer.js";

export const STREAM_CASES: readonly ConformanceCase[] = [
  {
    id: "5.1-data-idle",
    name: "RFC 9113 §5.1: DATA on an idle stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(data(ctx.stream + 20, Buffer.from("who?"), true));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "5.1-headers-stream-0",
    name: "RFC 9113 §6.2: HEADERS on stream 0 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(headers(0, responseBlock(200), { endStream: true }));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "5.1-data-stream-0",
    name: "RFC 9113 §6.1: DATA on stream 0 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(data(0, Buffer.from("nowhere")));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "5.1-data-after-end-stream",
    name: "RFC 9113 §5.1: DATA after the response's END_STREAM (half-closed remote) → STREAM_CLOSED",
    request: { endStream: false },
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200), { endStream: true }), data(ctx.stream, Buffer.from("late")));
      await expectStreamErrorOnWire(ctx, ErrorCode.STREAM_CLOSED);
      assert.equal(ctx.call.responses.length, 1, "the response itself was delivered");
    },
  },
  {
    id: "5.1-headers-after-end-stream",
    name: "RFC 9113 §5.1: HEADERS after the response's END_STREAM (half-closed remote) → STREAM_CLOSED",
    request: { endStream: false },
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200), { endStream: true }), headers(ctx.stream, responseBlock(200, [["x-late", "1"]]), { endStream: true }));
      await expectStreamErrorOnWire(ctx, ErrorCode.STREAM_CLOSED);
      assert.equal(ctx.call.responses.length, 1, "the response itself was delivered, the late HEADERS were not");
    },
  },
  {
    id: "5.1.1-server-initiated-headers",
    name: "RFC 9113 §5.1.1/§8.4: HEADERS on an even (server-initiated) stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(headers(2, requestBlock("/pushed"), { endStream: true }));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.6-push-disabled",
    name: "RFC 9113 §6.6/§8.4: PUSH_PROMISE after the client sent ENABLE_PUSH=0 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      assert.equal(ctx.conn.clientSettings?.get(SettingId.ENABLE_PUSH), 0, "the client disabled push in its SETTINGS");
      await ctx.conn.settingsAcked(1);
      ctx.conn.send(pushPromise(ctx.stream, 2, requestBlock("/pushed")));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "5.1.2-max-concurrent-streams",
    name: "RFC 9113 §5.1.2: no more streams open per connection than the peer's SETTINGS_MAX_CONCURRENT_STREAMS (1); queued requests still complete",
    settings: [[SettingId.MAX_CONCURRENT_STREAMS, 1]],
    async run(ctx) {
      await ctx.conn.settingsAcked(1);
      const calls = [ctx.call, ctx.open(), ctx.open()];
      // The pool may queue the extra requests or open more connections; either way, on no connection
      // may a second request arrive while one is unanswered. Each answer waits for a PING round trip
      // so that a stream opened too early has the time to show up first.
      for (let served = 0; served < calls.length; served++) {
        const c = await pollUntil(() => ctx.peer.conns.find((k) => k.unanswered.size > 0), { timeoutMs: WAIT_MS, label: "a request to answer" });
        await c.barrier();
        c.respond(c.unanswered.values().next().value!);
      }
      for (const call of calls) await expectClean(call);
      for (const c of ctx.peer.conns) assert.ok(c.peakUnanswered <= 1, `at most 1 open stream per connection, saw ${c.peakUnanswered}: ${c.describe()}`);
    },
  },
  {
    id: "6.4-rst-stream-0",
    name: "RFC 9113 §6.4: RST_STREAM on stream 0 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(rstStream(0, ErrorCode.CANCEL));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.4-rst-length",
    name: "RFC 9113 §6.4: RST_STREAM with a length other than 4 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.RST_STREAM, 0, ctx.stream, Buffer.alloc(3)));
      await expectConnectionError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.4-rst-idle",
    name: "RFC 9113 §5.1/§6.4: RST_STREAM on an idle stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(rstStream(ctx.stream + 20, ErrorCode.CANCEL));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.4-refused-stream",
    name: "RFC 9113 §6.4/§8.7: RST_STREAM(REFUSED_STREAM) closes the stream with rstCode 7; the connection stays usable",
    async run(ctx) {
      ctx.conn.send(rstStream(ctx.stream, ErrorCode.REFUSED_STREAM));
      await expectReset(ctx.call, ErrorCode.REFUSED_STREAM);
      assert.equal(ctx.call.responses.length, 0);
      const again = ctx.open();
      const s2 = await ctx.conn.nextRequest();
      assert.ok(s2 > ctx.stream, "a new stream id on the same connection");
      ctx.conn.respond(s2);
      await expectClean(again);
      assert.equal(ctx.peer.conns.length, 1, "no new connection");
      assert.equal(ctx.conn.rsts.size, 0, "the client does not reset a stream the server reset");
    },
  },
  {
    id: "6.4-rst-mid-response",
    name: "RFC 9113 §6.4: RST_STREAM(INTERNAL_ERROR) after the response started ends the stream with rstCode 2, not cleanly",
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200)), data(ctx.stream, Buffer.from("partial")), rstStream(ctx.stream, ErrorCode.INTERNAL_ERROR));
      await expectReset(ctx.call, ErrorCode.INTERNAL_ERROR);
    },
  },
  {
    id: "6.7-ping-ack",
    name: "RFC 9113 §6.7: PING is answered by a PING with ACK and the same 8 bytes, on stream 0",
    async run(ctx) {
      const payload = Buffer.from([1, 2, 3, 4, 5, 6, 7, 0xff]);
      ctx.conn.send(ping(payload));
      const ack = await ctx.conn.until(
        () => ctx.conn.frames.find((f) => f.type === FrameType.PING && f.payload.equals(payload)),
        "PING answer",
      );
      assert.equal(ack.flags & Flag.ACK, Flag.ACK, "ACK flag");
      assert.equal(ack.streamId, 0);
      ctx.conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.7-ping-length",
    name: "RFC 9113 §6.7: PING with a length other than 8 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.PING, 0, 0, Buffer.alloc(6)));
      await expectConnectionError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.7-ping-on-stream",
    name: "RFC 9113 §6.7: PING on a stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.PING, 0, ctx.stream, Buffer.alloc(8)));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.8-goaway-last-stream",
    name: "RFC 9113 §6.8: after GOAWAY, streams ≤ last-stream-id complete, later ones close as REFUSED_STREAM, new requests use a new connection",
    async run(ctx) {
      const { conn } = ctx;
      const second = ctx.open();
      const s2 = await conn.nextRequest();
      conn.send(goaway(ctx.stream, ErrorCode.NO_ERROR));
      // The router replays a request whose stream closed with REFUSED_STREAM: it was never processed.
      await expectReset(second, ErrorCode.REFUSED_STREAM);
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
      assert.ok(s2 > ctx.stream);
      const third = ctx.open();
      const conn2 = await ctx.peer.nextConn();
      const s3 = await conn2.nextRequest();
      conn2.respond(s3);
      await expectClean(third);
      assert.equal(conn.frames.filter((f) => f.type === FrameType.HEADERS && f.streamId > s2).length, 0, "no new stream on the old connection");
    },
  },
  {
    id: "6.8-goaway-zero",
    name: "RFC 9113 §6.8: GOAWAY with last-stream-id 0 refuses the open stream (rstCode 7, retryable)",
    async run(ctx) {
      ctx.conn.send(goaway(0, ErrorCode.NO_ERROR));
      await expectReset(ctx.call, ErrorCode.REFUSED_STREAM);
      assert.equal(ctx.call.responses.length, 0);
    },
  },
  {
    id: "6.8-goaway-on-stream",
    name: "RFC 9113 §6.8: GOAWAY on a stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(ctx.stream, 0);
      ctx.conn.send(frame(FrameType.GOAWAY, 0, ctx.stream, p));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
];
