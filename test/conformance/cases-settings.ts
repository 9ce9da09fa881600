/** Conformance cases: the connection preface and SETTINGS (RFC 9113 §3.4, §6.5). */
import assert from "node:assert/strict";
import { ErrorCode, Flag, frame, FrameType, SettingId, settings } from "../helpers/h2-frames.js";
import { type ConformanceCase, expectClean, expectConnectionError, expectTolerated } from "./case-kit.js";

/** A SETTINGS frame from the peer with one (id, value) pair. */
const one = (id: number, value: number): Buffer => settings([[id, value]]);

export const SETTINGS_CASES: readonly ConformanceCase[] = [
  {
    id: "3.4-preface",
    name: "RFC 9113 §3.4: the client sends the preface, then SETTINGS first, with values in range",
    async run(ctx) {
      const { conn } = ctx;
      assert.equal(conn.firstFrameType, FrameType.SETTINGS, "first frame after the preface");
      const s = conn.clientSettings;
      assert.ok(s !== undefined, "client SETTINGS");
      const push = s.get(SettingId.ENABLE_PUSH);
      assert.ok(push === undefined || push === 0 || push === 1, "ENABLE_PUSH is 0 or 1");
      assert.ok((s.get(SettingId.INITIAL_WINDOW_SIZE) ?? 0) <= 0x7fffffff, "INITIAL_WINDOW_SIZE ≤ 2^31-1");
      const mfs = s.get(SettingId.MAX_FRAME_SIZE) ?? 16_384;
      assert.ok(mfs >= 16_384 && mfs <= 0xffffff, "MAX_FRAME_SIZE in range");
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.5.3-ack",
    name: "RFC 9113 §6.5.3: the client ACKs the peer's SETTINGS with an empty ACK",
    settings: [[SettingId.MAX_CONCURRENT_STREAMS, 100]],
    async run(ctx) {
      const { conn } = ctx;
      await conn.settingsAcked(1);
      const ack = conn.frames.find((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0);
      assert.equal(ack?.payload.length, 0, "ACK has no payload");
      assert.equal(ack.streamId, 0, "ACK on stream 0");
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.5.3-ack-later",
    name: "RFC 9113 §6.5.3: SETTINGS sent mid-connection are ACKed too, and the stream goes on",
    async run(ctx) {
      const { conn } = ctx;
      await conn.settingsAcked(1);
      conn.send(settings([[SettingId.MAX_CONCURRENT_STREAMS, 100], [SettingId.MAX_HEADER_LIST_SIZE, 65_536]]));
      await conn.settingsAcked(2);
      conn.respond(ctx.stream);
      await expectClean(ctx.call);
    },
  },
  {
    id: "6.5-ack-with-payload",
    name: "RFC 9113 §6.5: SETTINGS with ACK and a payload → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      await ctx.conn.settingsAcked(1);
      ctx.conn.send(frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.from([0, SettingId.MAX_CONCURRENT_STREAMS, 0, 0, 0, 10])));
      await expectConnectionError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.5-length",
    name: "RFC 9113 §6.5: SETTINGS whose length is not a multiple of 6 → connection error FRAME_SIZE_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, SettingId.MAX_CONCURRENT_STREAMS, 0, 0, 10])));
      await expectConnectionError(ctx, ErrorCode.FRAME_SIZE_ERROR);
    },
  },
  {
    id: "6.5-on-stream",
    name: "RFC 9113 §6.5: SETTINGS on a stream → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(frame(FrameType.SETTINGS, 0, ctx.stream, Buffer.alloc(0)));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.5.2-enable-push-1",
    name: "RFC 9113 §6.5.2: a server's SETTINGS_ENABLE_PUSH = 1 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(one(SettingId.ENABLE_PUSH, 1));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.5.2-enable-push-2",
    name: "RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(one(SettingId.ENABLE_PUSH, 2));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.5.2-initial-window-too-big",
    name: "RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 → connection error FLOW_CONTROL_ERROR",
    async run(ctx) {
      ctx.conn.send(one(SettingId.INITIAL_WINDOW_SIZE, 0x80000000));
      await expectConnectionError(ctx, ErrorCode.FLOW_CONTROL_ERROR);
    },
  },
  {
    id: "6.5.2-max-frame-size-small",
    name: "RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE below 16384 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(one(SettingId.MAX_FRAME_SIZE, 16_383));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.5.2-max-frame-size-big",
    name: "RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE above 2^24-1 → connection error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(one(SettingId.MAX_FRAME_SIZE, 0x1000000));
      await expectConnectionError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "6.5.2-unknown-setting",
    name: "RFC 9113 §6.5.2: unknown SETTINGS identifiers are ignored (and ACKed)",
    async run(ctx) {
      await ctx.conn.settingsAcked(1);
      ctx.conn.send(settings([[0xff, 1], [0x7f7f, 0xffffffff]]));
      await ctx.conn.settingsAcked(2);
      await expectTolerated(ctx);
    },
  },
];
