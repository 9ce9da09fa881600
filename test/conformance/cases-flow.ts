/** Conformance cases: WINDOW_UPDATE and flow control, both directions (RFC 9113 §6.9). */
import assert from "node:assert/strict";
import { ErrorCode, frame, FrameType, headers, responseBlock, SettingId, windowUpdate } from "../helpers/h2-frames.js";
import { type CaseContext, type ConformanceCase, expectClean, expectConnectionError, expectStreamError } from "./case-kit.js";
import type { PeerConn } from "./peer.js";

const MAX_WINDOW = 0x7fffffff;
const MIB = 1024 * 1024;

/** Resolves once the client has sent exactly `n` DATA bytes on `stream` (more is an overrun). */
function received(conn: PeerConn, stream: number, n: number): Promise<true> {
  return conn.until(() => ((conn.received.get(stream) ?? 0) >= n ? true : undefined), `${n} request body bytes`);
}

/** No DATA beyond what the peer had granted when it arrived. */
function assertNoOverrun(conn: PeerConn): void {
  assert.deepEqual(conn.overruns, [], "the client's DATA stayed within the peer's windows");
}

/** Sends the request body once the client applied the peer's SETTINGS (so its windows are the peer's). */
async function startBody(ctx: CaseContext, size: number): Promise<void> {
  await ctx.conn.settingsAcked(1);
  await ctx.call.sendBody(Buffer.alloc(size, 0x63));
}

export const FLOW_CASES: readonly ConformanceCase[] = [
  {
    id: "6.9-zero-increment-stream",
    name: "RFC 9113 §6.9: WINDOW_UPDATE with increment 0 on a stream → stream error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(windowUpdate(ctx.stream, 0));
      await expectStreamError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.9-zero-increment-conn",
    name: "RFC 9113 §6.9: WINDOW_UPDATE with increment 0 on the connection → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(windowUpdate(0, 0));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.9-length",
    name: "RFC 9113 §6.9: WINDOW_UPDATE with a length other than 4 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1])));
      await expectConnectionError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.9.1-overflow-stream",
    name: "RFC 9113 §6.9.1: a stream window pushed above 2^31-1 → stream error FLOW_CONTROL_ERROR",
    request: { endStream: false },
    async run(ctx) {
      ctx.conn.send(windowUpdate(ctx.stream, MAX_WINDOW), windowUpdate(ctx.stream, MAX_WINDOW));
      await expectStreamError(ctx, ErrorCode.FLOW_CONTROL_ERROR);
    },
  },
  {
    id: "6.9.1-overflow-conn",
    name: "RFC 9113 §6.9.1: the connection window pushed above 2^31-1 → connection error FLOW_CONTROL_ERROR",
    async run(ctx) {
      ctx.conn.send(windowUpdate(0, MAX_WINDOW), windowUpdate(0, MAX_WINDOW));
      await expectConnectionError(ctx, ErrorCode.FLOW_CONTROL_ERROR);
    },
  },
  {
    id: "6.9.1-peer-overruns-window",
    name: "RFC 9113 §6.9.1: DATA beyond the client's stream window (consumer not reading) → FLOW_CONTROL_ERROR",
    request: { paused: true },
    async run(ctx) {
      const { conn } = ctx;
      conn.send(headers(ctx.stream, responseBlock(200)));
      // Fill the windows the client advertised, round after round: a client may credit data it took
      // into its own buffers (the PING round trip flushes those WINDOW_UPDATEs), but with the consumer
      // paused the credits stop and the window runs dry. Then one frame more is an overrun.
      let room = 0;
      let sent = 0;
      for (let round = 0; round < 64; round++) {
        room = Math.min(conn.sendWindow(ctx.stream), conn.connSendWindow);
        if (room <= 0) break;
        const frames: Buffer[] = [];
        for (let left = room; left > 0; left -= 16_384) frames.push(conn.dataFrame(ctx.stream, Buffer.alloc(Math.min(left, 16_384), 0x64)));
        conn.send(...frames);
        sent += room;
        await conn.barrier();
      }
      assert.ok(room <= 0, `the client stopped crediting its window while the consumer is paused (${sent} B sent)`);
      conn.send(conn.dataFrame(ctx.stream, Buffer.alloc(1024, 0x65)));
      await expectStreamError(ctx, ErrorCode.FLOW_CONTROL_ERROR);
    },
  },
  {
    id: "6.9-client-sends-window-update",
    name: "RFC 9113 §6.9: the client re-opens its receive windows: a 1 MiB response sent within them arrives whole",
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200)));
      await ctx.conn.sendBody(ctx.stream, MIB);
      await ctx.call.closed();
      assert.ok(ctx.call.clean, ctx.call.describe());
      assert.equal(ctx.call.chunks.reduce((n, c) => n + c.length, 0), MIB);
    },
  },
  {
    id: "6.9.1-client-respects-windows",
    name: "RFC 9113 §6.9.1: a 1 MiB request body never exceeds the peer's stream (1000 B) or connection (64 KiB) window",
    settings: [[SettingId.INITIAL_WINDOW_SIZE, 1000]],
    request: { endStream: false },
    async run(ctx) {
      const { conn } = ctx;
      await startBody(ctx, MIB);
      await received(conn, ctx.stream, 1000);
      assertNoOverrun(conn);
      // Stream window up to the connection's 65535: now the connection window is the limit.
      conn.grant(ctx.stream, 2 * 65_535);
      await received(conn, ctx.stream, 65_535);
      assertNoOverrun(conn);
      conn.grant(0, 2 * MIB);
      conn.grant(ctx.stream, 2 * MIB);
      await conn.until(() => (conn.endedStreams.has(ctx.stream) ? true : undefined), "request END_STREAM");
      assert.equal(conn.received.get(ctx.stream), MIB);
      assertNoOverrun(conn);
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.9.2-initial-window-change",
    name: "RFC 9113 §6.9.2: a new SETTINGS_INITIAL_WINDOW_SIZE applies to open streams (window grows by the difference)",
    settings: [[SettingId.INITIAL_WINDOW_SIZE, 1000]],
    request: { endStream: false },
    async run(ctx) {
      const { conn } = ctx;
      await startBody(ctx, 10_000);
      await received(conn, ctx.stream, 1000);
      conn.setInitialWindow(3000);
      await received(conn, ctx.stream, 3000);
      await conn.settingsAcked(2);
      assertNoOverrun(conn);
      conn.setInitialWindow(65_535);
      await conn.until(() => (conn.endedStreams.has(ctx.stream) ? true : undefined), "request END_STREAM");
      assert.equal(conn.received.get(ctx.stream), 10_000);
      assertNoOverrun(conn);
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.9.2-negative-window",
    name: "RFC 9113 §6.9.2: a smaller SETTINGS_INITIAL_WINDOW_SIZE can make a window negative; the client waits until it is positive",
    settings: [[SettingId.INITIAL_WINDOW_SIZE, 1000]],
    request: { endStream: false },
    async run(ctx) {
      const { conn } = ctx;
      await startBody(ctx, 10_000);
      await received(conn, ctx.stream, 1000);
      // Window: 1000 - 1000 sent = 0, then -1000 after the change; +1500 leaves room for 500 bytes.
      conn.setInitialWindow(0);
      await conn.settingsAcked(2);
      conn.grant(ctx.stream, 1500);
      await received(conn, ctx.stream, 1500);
      assertNoOverrun(conn);
      conn.grant(ctx.stream, 10_000);
      await conn.until(() => (conn.endedStreams.has(ctx.stream) ? true : undefined), "request END_STREAM");
      assert.equal(conn.received.get(ctx.stream), 10_000);
      assertNoOverrun(conn);
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
];
