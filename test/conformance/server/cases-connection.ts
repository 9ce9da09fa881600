/** Server conformance cases: the connection preface and SETTINGS (RFC 9113 §3.4, §6.5). */
import assert from "node:assert/strict";
import { ErrorCode, frame, FrameType, PREFACE, ping, SettingId, settings } from "../../helpers/h2-frames.js";
import { expectConnectionError, expectForwarded, expectNoReaction, expectResponse, type ServerCase, settle, TIGHT } from "./server-kit.js";

/** A SETTINGS payload with the pairs given, duplicates and all. */
function settingsPayload(pairs: ReadonlyArray<readonly [number, number]>): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return p;
}

/** A case whose preface SETTINGS carry one bad value: connection error `code`, nothing forwarded. */
function badSetting(id: string, name: string, setting: number, value: number, code: number): ServerCase {
  return {
    id,
    name,
    async run(ctx) {
      const c = await ctx.connect({ settings: [[setting, value]], handshake: false });
      c.request(1, ctx.get());
      await expectConnectionError(c, code);
      await expectForwarded(ctx, 0);
    },
  };
}

export const CONNECTION_CASES: readonly ServerCase[] = [
  {
    id: "3.4-server-preface",
    name: "RFC 9113 §3.4: the server's preface is a SETTINGS frame (not an ACK) with push off and the configured limits",
    async run(ctx) {
      const c = await ctx.connect();
      assert.equal(c.firstFrameType, FrameType.SETTINGS, `first frame; the server sent ${c.describe()}`);
      assert.equal(c.frames[0].flags, 0, "no ACK flag on the preface SETTINGS");
      assert.equal(c.frames[0].streamId, 0);
      const s = c.serverSettings!;
      assert.ok([undefined, 0].includes(s.get(SettingId.ENABLE_PUSH)), "a server never enables push (§6.5.2)");
      assert.equal(s.get(SettingId.MAX_CONCURRENT_STREAMS), 1024, "SETTINGS_MAX_CONCURRENT_STREAMS: the listener's default max_concurrent_streams");
      assert.equal(s.get(SettingId.INITIAL_WINDOW_SIZE), 1 << 20, "SETTINGS_INITIAL_WINDOW_SIZE: the default initial_stream_window_size (1 MiB)");
      const t = await ctx.connect({ listener: "tight" });
      const ts = t.serverSettings!;
      assert.equal(ts.get(SettingId.MAX_CONCURRENT_STREAMS), TIGHT.maxConcurrentStreams, "the configured max_concurrent_streams");
      assert.equal(ts.get(SettingId.INITIAL_WINDOW_SIZE) ?? 65_535, TIGHT.streamWindow, "the configured initial_stream_window_size");
    },
  },
  {
    id: "3.4-settings-ack",
    name: "RFC 9113 §3.4/§6.5.3: the server ACKs the client's preface SETTINGS with an empty SETTINGS ACK, and serves a GET",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[SettingId.MAX_CONCURRENT_STREAMS, 100]] });
      const ack = await c.frame(FrameType.SETTINGS, 0, (f) => (f.flags & 1) !== 0);
      assert.equal(ack.payload.length, 0, "an ACK carries no payload");
      c.request(1, ctx.get());
      await expectResponse(c, 1);
    },
  },
  {
    id: "3.4-invalid-preface",
    name: "RFC 9113 §3.4: an invalid connection preface → connection error PROTOCOL_ERROR (GOAWAY may be omitted); nothing forwarded",
    async run(ctx) {
      const c = await ctx.connect({ preface: false });
      // The first 16 bytes are right (the listener's sniffer takes it for HTTP/2); the rest is not.
      c.send(Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"), settings());
      await c.waitClosed();
      if (c.goaway !== undefined) assert.equal(c.goaway.code, ErrorCode.PROTOCOL_ERROR, `GOAWAY code; the server sent ${c.describe()}`);
      assert.equal(c.frames.filter((f) => f.type === FrameType.HEADERS).length, 0, "no response");
      await expectForwarded(ctx, 0);
    },
  },
  {
    id: "3.4-preface-not-settings",
    name: "RFC 9113 §3.4: a preface not followed by SETTINGS (a PING instead) → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect({ preface: false });
      c.send(PREFACE, ping(Buffer.alloc(8)), settings());
      await c.until(() => c.goaway ?? (c.closed ? null : undefined), "GOAWAY or close");
      if (c.goaway !== undefined) assert.equal(c.goaway.code, ErrorCode.PROTOCOL_ERROR, `GOAWAY code; the server sent ${c.describe()}`);
      await c.waitClosed();
    },
  },
  {
    id: "6.5-ack-with-payload",
    name: "RFC 9113 §6.5: SETTINGS with ACK and a payload → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frame(FrameType.SETTINGS, 1, 0, settingsPayload([[SettingId.ENABLE_PUSH, 0]])));
      await expectConnectionError(c, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.5-on-stream",
    name: "RFC 9113 §6.5: SETTINGS on a stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frame(FrameType.SETTINGS, 0, 1, settingsPayload([[SettingId.ENABLE_PUSH, 0]])));
      await expectConnectionError(c, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.5-length",
    name: "RFC 9113 §6.5: SETTINGS whose length is not a multiple of 6 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0])));
      await expectConnectionError(c, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  badSetting("6.5.2-enable-push-2", "RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 → connection error PROTOCOL_ERROR", SettingId.ENABLE_PUSH, 2, ErrorCode.PROTOCOL_ERROR),
  badSetting(
    "6.5.2-initial-window-too-big",
    "RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 → connection error FLOW_CONTROL_ERROR",
    SettingId.INITIAL_WINDOW_SIZE,
    2 ** 31,
    ErrorCode.FLOW_CONTROL_ERROR,
  ),
  badSetting(
    "6.5.2-max-frame-size-small",
    "RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE below 16384 → connection error PROTOCOL_ERROR",
    SettingId.MAX_FRAME_SIZE,
    16_383,
    ErrorCode.PROTOCOL_ERROR,
  ),
  badSetting(
    "6.5.2-max-frame-size-big",
    "RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE above 2^24-1 → connection error PROTOCOL_ERROR",
    SettingId.MAX_FRAME_SIZE,
    2 ** 24,
    ErrorCode.PROTOCOL_ERROR,
  ),
  {
    id: "6.5.2-unknown-setting",
    name: "RFC 9113 §6.5.2: an unknown SETTINGS identifier is ignored (and ACKed); requests are served",
    async run(ctx) {
      const c = await ctx.connect({ settings: [[0xff, 1], [0x4242, 0xffffffff]] });
      c.request(1, ctx.get());
      await expectResponse(c, 1);
      await expectNoReaction(c);
    },
  },
  {
    id: "6.5.3-ack-later",
    name: "RFC 9113 §6.5.3: a SETTINGS frame sent mid-connection is ACKed too",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, ctx.get("a"));
      await expectResponse(c, 1);
      c.sendSettings([[SettingId.HEADER_TABLE_SIZE, 4096]]);
      await c.until(() => (c.settingsAcks >= 2 ? true : undefined), "SETTINGS ACK #2");
      c.request(3, ctx.get("b"));
      await expectResponse(c, 3);
    },
  },
  {
    id: "6.5.3-multiple-values",
    name: "RFC 9113 §6.5.3: values in one SETTINGS frame apply in order (INITIAL_WINDOW_SIZE 100 then 1: one byte of DATA)",
    async run(ctx) {
      const c = await ctx.connect({ autoWindow: false });
      c.sendSettings([
        [SettingId.INITIAL_WINDOW_SIZE, 100],
        [SettingId.INITIAL_WINDOW_SIZE, 1],
      ]);
      await c.until(() => (c.settingsAcks >= 2 ? true : undefined), "SETTINGS ACK #2");
      c.request(1, ctx.get("win?size=10"));
      await c.until(() => (c.received(1) >= 1 ? true : undefined), "the first DATA byte");
      await settle(ctx, c);
      assert.equal(c.received(1), 1, `exactly 1 byte within a window of 1; the server sent ${c.describe()}`);
      c.grant(1, 9);
      await expectResponse(c, 1, 200, "b".repeat(10));
    },
  },
];
