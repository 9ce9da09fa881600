/**
 * Server conformance cases: stream states and identifiers, concurrency, error handling, RST_STREAM,
 * PUSH_PROMISE from a client, PING, GOAWAY and unknown error codes (RFC 9113 §5.1-§5.4, §6.4, §6.6-§6.8,
 * §7, §8.4).
 */
import assert from "node:assert/strict";
import { data, ErrorCode, Flag, frame, FrameType, goaway, headers, literal, ping, priority, pushPromise, rstStream, windowUpdate } from "../../helpers/h2-frames.js";
import {
  expectConnectionError,
  expectIgnoredOrStreamClosed,
  expectForwarded,
  expectNoReaction,
  expectResponse,
  expectStreamError,
  expectUsable,
  type ServerCase,
  TIGHT,
} from "./server-kit.js";

/** A request's fields as literals without indexing. */
function literalBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(fields.map(([n, v]) => literal(n, v)));
}

export const STREAM_CASES: readonly ServerCase[] = [
  {
    id: "5.1-data-idle",
    name: "RFC 9113 §5.1: DATA on an idle stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(data(1, Buffer.from("who?"), true));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "5.1-rst-idle",
    name: "RFC 9113 §5.1/§6.4: RST_STREAM on an idle stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(rstStream(1, ErrorCode.CANCEL));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "5.1-window-update-idle",
    name: "RFC 9113 §5.1: WINDOW_UPDATE on an idle stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(windowUpdate(1, 100));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "5.1-data-half-closed-remote",
    name: "RFC 9113 §5.1: DATA after the request's END_STREAM (half-closed remote) → stream error STREAM_CLOSED",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post()), { endStream: true }), data(1, Buffer.from("late")));
      await expectStreamError(c, 1, ErrorCode.STREAM_CLOSED);
    },
  },
  {
    id: "5.1-headers-half-closed-remote",
    name: "RFC 9113 §5.1: HEADERS after the request's END_STREAM (half-closed remote) → stream error STREAM_CLOSED",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post()), { endStream: true }), headers(1, literal("x-late", "1"), { endStream: true }));
      await expectStreamError(c, 1, ErrorCode.STREAM_CLOSED);
    },
  },
  {
    id: "5.1-data-after-rst",
    name: "RFC 9113 §5.1: DATA on a stream the client reset (closed) is ignored or a STREAM_CLOSED error; never forwarded",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("bad"))), rstStream(1, ErrorCode.CANCEL), data(1, Buffer.from("late"), true));
      await expectIgnoredOrStreamClosed(ctx, c, 1);
    },
  },
  {
    id: "5.1-headers-after-rst",
    name: "RFC 9113 §5.1: HEADERS on a stream the client reset (closed) are ignored or a STREAM_CLOSED error; never forwarded",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("bad"))), rstStream(1, ErrorCode.CANCEL), headers(1, literalBlock(ctx.get("bad")), { endStream: true }));
      await expectIgnoredOrStreamClosed(ctx, c, 1);
    },
  },
  {
    id: "5.1-data-after-response",
    name: "RFC 9113 §5.1: DATA on a stream closed by both END_STREAMs is ignored or a STREAM_CLOSED error",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, ctx.get());
      await expectResponse(c, 1);
      c.send(data(1, Buffer.from("late"), true));
      await c.barrier().catch(() => undefined);
      if (c.goaway !== undefined || c.closed) {
        await expectConnectionError(c, ErrorCode.STREAM_CLOSED);
        return;
      }
      const rst = c.rsts.get(1);
      if (rst !== undefined) assert.equal(rst, ErrorCode.STREAM_CLOSED, "RST_STREAM code");
      await expectUsable(ctx, c, 3);
    },
  },
  {
    id: "5.1-closed-stream-late-frames",
    name: "RFC 9113 §5.1: WINDOW_UPDATE, PRIORITY and RST_STREAM on a stream the server just closed are tolerated (they can cross its END_STREAM)",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, ctx.get());
      await expectResponse(c, 1);
      c.send(windowUpdate(1, 1000), priority(1, 0, 20), rstStream(1, ErrorCode.CANCEL));
      await expectNoReaction(c);
      await expectUsable(ctx, c, 3);
    },
  },
  {
    id: "5.1.1-even-stream-id",
    name: "RFC 9113 §5.1.1: a request on an even (server-initiated) stream id → connection error PROTOCOL_ERROR; not forwarded",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(2, literalBlock(ctx.get()), { endStream: true }));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
      await expectForwarded(ctx, 0);
    },
  },
  {
    id: "5.1.1-decreasing-stream-id",
    name: "RFC 9113 §5.1.1: a stream id lower than one already used → connection error PROTOCOL_ERROR; not forwarded",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(5, ctx.get("first"));
      await expectResponse(c, 5);
      c.send(headers(3, literalBlock(ctx.get("lower")), { endStream: true }));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
      await expectForwarded(ctx, 1);
    },
  },
  {
    id: "5.1.2-max-concurrent-streams",
    name: "RFC 9113 §5.1.2: a stream above the advertised SETTINGS_MAX_CONCURRENT_STREAMS (2) → stream error REFUSED_STREAM or PROTOCOL_ERROR (the others complete) or GOAWAY(PROTOCOL_ERROR); not forwarded",
    async run(ctx) {
      const c = await ctx.connect({ listener: "tight" });
      assert.equal(c.serverSettings?.get(3), TIGHT.maxConcurrentStreams, "the advertised limit");
      c.send(headers(1, c.block(ctx.post("a"))), headers(3, c.block(ctx.post("b"))));
      await ctx.upstream.until(() => ctx.forwarded().length >= 2, "the two open requests", 3000);
      c.send(headers(5, c.block(ctx.post("over")), { endStream: true }));
      const kind = await expectStreamError(c, 5, [ErrorCode.REFUSED_STREAM, ErrorCode.PROTOCOL_ERROR]);
      if (kind === "goaway") {
        // §5.4.1 allows treating the stream error as a connection error; then only PROTOCOL_ERROR fits.
        assert.equal(c.goaway?.code, ErrorCode.PROTOCOL_ERROR, "GOAWAY code");
        await expectForwarded(ctx, 2, 0);
        return;
      }
      c.send(c.dataFrame(1, Buffer.from("one"), true), c.dataFrame(3, Buffer.from("two"), true));
      await expectResponse(c, 1, 200, "one");
      await expectResponse(c, 3, 200, "two");
      await expectForwarded(ctx, 2);
    },
  },
  {
    id: "5.1.2-multiplexed-streams",
    name: "RFC 9113 §5: 20 concurrent requests on one connection, their frames interleaved, each get their own response",
    async run(ctx) {
      const c = await ctx.connect();
      const ids = Array.from({ length: 20 }, (_, i) => 2 * i + 1);
      for (const id of ids) c.send(headers(id, c.block(ctx.post(`m${id}`))));
      for (const id of ids) c.send(c.dataFrame(id, Buffer.from(`body of ${id}, `)));
      for (const id of ids.toReversed()) c.send(c.dataFrame(id, Buffer.from("end"), true));
      for (const id of ids) await expectResponse(c, id, 200, `body of ${id}, end`);
      await expectForwarded(ctx, ids.length);
    },
  },
  {
    id: "5.4.1-goaway-last-stream-id",
    name: "RFC 9113 §5.4.1/§6.8: after a connection error the GOAWAY names the last stream the server processed, then it closes",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, ctx.get("a"));
      await expectResponse(c, 1);
      c.request(3, ctx.get("b"));
      await expectResponse(c, 3);
      c.send(frame(FrameType.PING, 0, 3, Buffer.alloc(8)));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
      assert.equal(c.goaway?.lastStreamId, 3, "last-stream-id");
    },
  },
  {
    id: "6.4-rst-stream-0",
    name: "RFC 9113 §6.4: RST_STREAM on stream 0 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(rstStream(0, ErrorCode.CANCEL));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.4-rst-length",
    name: "RFC 9113 §6.4: RST_STREAM with a length other than 4 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3)));
      await expectConnectionError(c, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.4-rst-cancels-request",
    name: "RFC 9113 §6.4/§8.7: RST_STREAM(CANCEL) on an open request resets it upstream; the connection goes on",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("cancelled"))), c.dataFrame(1, Buffer.from("part")));
      await ctx.upstream.until(() => ctx.forwarded().length >= 1, "the request", 3000);
      c.send(rstStream(1, ErrorCode.CANCEL));
      const up = ctx.forwarded()[0];
      await ctx.upstream.until(() => up.closed, "the upstream stream to close", 3000);
      assert.ok(!up.complete, "the upstream never saw the cancelled request complete");
      await expectNoReaction(c);
      await expectUsable(ctx, c, 3);
    },
  },
  {
    id: "6.6-push-promise-from-client",
    name: "RFC 9113 §8.4/§6.6: PUSH_PROMISE from a client → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), pushPromise(1, 2, literalBlock(ctx.get("pushed"))));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.7-ping",
    name: "RFC 9113 §6.7: PING is answered by a PING with ACK, the same 8 bytes, on stream 0",
    async run(ctx) {
      const c = await ctx.connect();
      const payload = Buffer.from([1, 2, 3, 4, 5, 6, 7, 0xff]);
      c.send(ping(payload));
      const ack = await c.frame(FrameType.PING, undefined, (f) => f.payload.equals(payload));
      assert.equal(ack.flags & Flag.ACK, Flag.ACK, "ACK flag");
      assert.equal(ack.streamId, 0);
    },
  },
  {
    id: "6.7-ping-ack-not-answered",
    name: "RFC 9113 §6.7: a PING with ACK set is not answered",
    async run(ctx) {
      const c = await ctx.connect();
      const payload = Buffer.from("unasked!");
      c.send(ping(payload, true));
      await expectNoReaction(c);
      assert.equal(c.frames.filter((f) => f.type === FrameType.PING && f.payload.equals(payload)).length, 0, "no answer to an ACK");
    },
  },
  {
    id: "6.7-ping-on-stream",
    name: "RFC 9113 §6.7: PING on a stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frame(FrameType.PING, 0, 1, Buffer.alloc(8)));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.7-ping-length",
    name: "RFC 9113 §6.7: PING with a length other than 8 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frame(FrameType.PING, 0, 0, Buffer.alloc(6)));
      await expectConnectionError(c, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.8-goaway-on-stream",
    name: "RFC 9113 §6.8: GOAWAY on a stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      const p = Buffer.alloc(8);
      c.send(frame(FrameType.GOAWAY, 0, 1, p));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.8-client-goaway",
    name: "RFC 9113 §6.8: after the client's GOAWAY(NO_ERROR), the request already sent still gets its complete response",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), goaway(0, ErrorCode.NO_ERROR), c.dataFrame(1, Buffer.from("still here"), true));
      await expectResponse(c, 1, 200, "still here");
      if (c.goaway !== undefined) assert.equal(c.goaway.code, ErrorCode.NO_ERROR, "a GOAWAY in return, if any, has NO_ERROR");
      assert.equal(c.rsts.size, 0, "no stream reset");
    },
  },
  {
    id: "7-goaway-unknown-error-code",
    name: "RFC 9113 §7: a GOAWAY with an unknown error code triggers nothing special: no error in return (it may count as INTERNAL_ERROR)",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(goaway(0, 0xff));
      // The server may close (an unknown code may be taken as INTERNAL_ERROR); if it answers, it is
      // with a PING ACK and, at most, a GOAWAY(NO_ERROR): never an error of its own.
      await c.barrier().catch(() => c.waitClosed());
      if (c.goaway !== undefined) assert.equal(c.goaway.code, ErrorCode.NO_ERROR, `a GOAWAY in return has NO_ERROR; the server sent ${c.describe()}`);
      assert.equal(c.rsts.size, 0, "no stream reset");
    },
  },
  {
    id: "7-rst-unknown-error-code",
    name: "RFC 9113 §7: RST_STREAM with an unknown error code closes the stream like any other; no connection error",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), rstStream(1, 0xff));
      await expectNoReaction(c);
      await expectUsable(ctx, c, 3);
    },
  },
];
