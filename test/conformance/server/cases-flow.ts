/**
 * Server conformance cases: flow control in both directions (RFC 9113 §6.9). The client keeps exact
 * accounts of the windows it gave the server (client-conn.ts records any DATA beyond them, and the
 * runner fails the case on it) and of the windows the server gave it.
 */
import assert from "node:assert/strict";
import { ErrorCode, frame, FrameType, headers, SettingId, windowUpdate } from "../../helpers/h2-frames.js";
import { patternBytes } from "../../helpers/util.js";
import { expectConnectionError, expectResponse, expectStreamError, expectUsable, type ServerCase, settle } from "./server-kit.js";

const MAX_WINDOW = 2 ** 31 - 1;

export const FLOW_CASES: readonly ServerCase[] = [
  {
    id: "6.9-zero-increment-conn",
    name: "RFC 9113 §6.9: WINDOW_UPDATE with increment 0 on the connection → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(windowUpdate(0, 0));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.9-zero-increment-stream",
    name: "RFC 9113 §6.9: WINDOW_UPDATE with increment 0 on a stream → stream error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), windowUpdate(1, 0));
      await expectStreamError(c, 1, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.9-length",
    name: "RFC 9113 §6.9: WINDOW_UPDATE with a length other than 4 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1])));
      await expectConnectionError(c, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.9.1-overflow-conn",
    name: "RFC 9113 §6.9.1: WINDOW_UPDATEs pushing the connection window above 2^31-1 → connection error FLOW_CONTROL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(windowUpdate(0, MAX_WINDOW), windowUpdate(0, MAX_WINDOW));
      await expectConnectionError(c, ErrorCode.FLOW_CONTROL_ERROR);
    },
  },
  {
    id: "6.9.1-overflow-stream",
    name: "RFC 9113 §6.9.1: WINDOW_UPDATEs pushing a stream window above 2^31-1 → stream error FLOW_CONTROL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), windowUpdate(1, MAX_WINDOW), windowUpdate(1, MAX_WINDOW));
      const kind = await expectStreamError(c, 1, ErrorCode.FLOW_CONTROL_ERROR);
      if (kind === "rst") await expectUsable(ctx, c, 3);
    },
  },
  {
    id: "6.9.1-small-window",
    name: "RFC 9113 §6.9.1: with SETTINGS_INITIAL_WINDOW_SIZE 100 the server sends 100 bytes of a 1000-byte body, the rest after WINDOW_UPDATE",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[SettingId.INITIAL_WINDOW_SIZE, 100]], autoWindow: false });
      c.request(1, ctx.get("w?size=1000"));
      await c.until(() => (c.received(1) >= 100 ? true : undefined), "100 bytes of DATA");
      await settle(ctx, c);
      assert.equal(c.received(1), 100, `no more than the window; the server sent ${c.describe()}`);
      c.grant(1, 900);
      await expectResponse(c, 1, 200, "b".repeat(1000));
    },
  },
  {
    id: "6.9.1-zero-window",
    name: "RFC 9113 §6.9.1: with SETTINGS_INITIAL_WINDOW_SIZE 0 the server sends HEADERS but no DATA until a WINDOW_UPDATE",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[SettingId.INITIAL_WINDOW_SIZE, 0]], autoWindow: false });
      c.request(1, ctx.get("w?size=300"));
      await c.frame(FrameType.HEADERS, 1);
      await settle(ctx, c);
      assert.equal(c.frames.filter((f) => f.type === FrameType.DATA && f.payload.length > 0).length, 0, `no DATA in a zero window; the server sent ${c.describe()}`);
      c.grant(1, 300);
      await expectResponse(c, 1, 200, "b".repeat(300));
    },
  },
  {
    id: "6.9.1-connection-window",
    name: "RFC 9113 §6.9.1: the server stops at the connection window (65535) across streams and resumes after a connection WINDOW_UPDATE",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]], autoWindow: false });
      c.request(1, ctx.get("a?size=50000"));
      c.request(3, ctx.get("b?size=50000"));
      await c.until(() => (c.received(1) + c.received(3) >= 65_535 ? true : undefined), "65535 bytes of DATA");
      await settle(ctx, c);
      assert.equal(c.received(1) + c.received(3), 65_535, `no more than the connection window; the server sent ${c.describe()}`);
      c.grant(0, 100_000 - 65_535);
      await expectResponse(c, 1, 200, "b".repeat(50_000));
      await expectResponse(c, 3, 200, "b".repeat(50_000));
    },
  },
  {
    id: "6.9.2-initial-window-change",
    name: "RFC 9113 §6.9.2: a new SETTINGS_INITIAL_WINDOW_SIZE applies to open streams (0 → 500 releases 500 bytes)",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[SettingId.INITIAL_WINDOW_SIZE, 0]], autoWindow: false });
      c.request(1, ctx.get("w?size=500"));
      await c.frame(FrameType.HEADERS, 1);
      await settle(ctx, c);
      c.sendSettings([[SettingId.INITIAL_WINDOW_SIZE, 500]]);
      await expectResponse(c, 1, 200, "b".repeat(500));
    },
  },
  {
    id: "6.9.2-negative-window",
    name: "RFC 9113 §6.9.2: a smaller SETTINGS_INITIAL_WINDOW_SIZE can make a window negative; the server waits until it is positive",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[SettingId.INITIAL_WINDOW_SIZE, 100]], autoWindow: false });
      c.request(1, ctx.get("w?size=300"));
      await c.until(() => (c.received(1) >= 100 ? true : undefined), "100 bytes of DATA");
      await settle(ctx, c);
      c.sendSettings([[SettingId.INITIAL_WINDOW_SIZE, 50]]);
      await c.until(() => (c.settingsAcks >= 2 ? true : undefined), "SETTINGS ACK #2");
      // The window is now 50 - 100 = -50: 100 more credit leaves 50 to send.
      c.grant(1, 100);
      await c.until(() => (c.received(1) >= 150 ? true : undefined), "50 more bytes");
      await c.barrier();
      assert.equal(c.received(1), 150, `exactly 50 bytes once the window came back to 50; the server sent ${c.describe()}`);
      c.grant(1, 150);
      await expectResponse(c, 1, 200, "b".repeat(300));
    },
  },
  {
    id: "6.9.2-initial-window-overflow",
    name: "RFC 9113 §6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change that takes an open stream's window above 2^31-1 → connection error FLOW_CONTROL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())));
      // Stream 1's window (what the server may send on it) becomes exactly 2^31-1, which is legal...
      c.grant(1, MAX_WINDOW - 65_535);
      await c.barrier();
      assert.equal(c.goaway, undefined, `a window of exactly 2^31-1 is legal; the server sent ${c.describe()}`);
      // ...and one more byte of initial window pushes it over.
      c.sendSettings([[SettingId.INITIAL_WINDOW_SIZE, 65_536]]);
      await expectConnectionError(c, ErrorCode.FLOW_CONTROL_ERROR);
    },
  },
  {
    id: "6.9.1-client-overruns-window",
    name: "RFC 9113 §6.9.1: DATA beyond the server's advertised window → FLOW_CONTROL_ERROR (stream or connection)",
    async run(ctx) {
      const c = await ctx.connect({ listener: "tight" });
      c.send(headers(1, c.block(ctx.post("hold/bad"))));
      // The upstream never reads this body, so the sidecar stops reading it too and the server's
      // credits stop: fill the windows round after round, each flushed by PING round trips, until a
      // round brings no credit back. Then one byte is one byte too many.
      for (let round = 0; ; round++) {
        assert.ok(round < 50, `the server kept granting credit; the server sent ${c.describe()}`);
        const room = Math.min(c.sendWindow(1), c.connSendWindow);
        if (room <= 0) break;
        await c.sendBody(1, Buffer.alloc(room, 0x6f), false);
        await c.barrier();
        await c.barrier();
      }
      c.send(c.dataFrame(1, Buffer.from("!")));
      await expectStreamError(c, 1, ErrorCode.FLOW_CONTROL_ERROR);
    },
  },
  {
    id: "6.9-request-body-beyond-window",
    name: "RFC 9113 §6.9: a 256 KiB request body, 4× the server's windows, flows on its WINDOW_UPDATEs and reaches the upstream whole",
    async run(ctx) {
      const c = await ctx.connect({ listener: "tight" });
      const body = patternBytes(256 * 1024, 7);
      c.send(headers(1, c.block(ctx.post("big"))));
      await c.sendBody(1, body);
      await expectResponse(c, 1, 200, body);
      assert.equal(ctx.forwarded()[0]?.bytes, body.length, "the upstream received the whole body");
    },
  },
  {
    id: "4.2-server-frame-size",
    name: "RFC 9113 §4.2: a 100 KB response comes in DATA frames no larger than our SETTINGS_MAX_FRAME_SIZE (16384)",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, ctx.get("big?size=100000"));
      await expectResponse(c, 1, 200, "b".repeat(100_000));
      const sizes = c.frames.filter((f) => f.type === FrameType.DATA).map((f) => f.payload.length);
      assert.ok(Math.max(...sizes) <= 16_384, `DATA frame sizes ${sizes.join(",")}`);
    },
  },
];
