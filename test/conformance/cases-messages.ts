/**
 * Conformance cases: HTTP message framing and field validity in responses (RFC 9113 §8.1-§8.3).
 * A malformed response is a stream error PROTOCOL_ERROR (§8.1.1): the pool's consumer must see a
 * reset, never a response it could forward as if it were sound.
 */
import assert from "node:assert/strict";
import { data, ErrorCode, headers, literal, responseBlock } from "../helpers/h2-frames.js";
import { type CaseContext, type ConformanceCase, expectClean, expectStreamError } from "./case-kit.js";

/** A response whose header block is malformed: no 'response' may reach the consumer. */
async function malformedHeaders(ctx: CaseContext, block: Buffer): Promise<void> {
  ctx.conn.send(headers(ctx.stream, block, { endStream: true }));
  await expectStreamError(ctx, ErrorCode.PROTOCOL_ERROR);
  assert.equal(ctx.call.responses.length, 0, `no response delivered (${ctx.call.describe()})`);
}

/** One case per malformed response header block. */
function malformed(id: string, name: string, block: () => Buffer): ConformanceCase {
  return { id, name, run: (ctx) => malformedHeaders(ctx, block()) };
}

const status200 = (): Buffer => literal(":status", "200");

export const MESSAGE_CASES: readonly ConformanceCase[] = [
  malformed("8.2.1-uppercase-name", "RFC 9113 §8.2.1: an uppercase field name → malformed (stream error PROTOCOL_ERROR)", () =>
    responseBlock(200, [["X-Upper", "1"]]),
  ),
  malformed("8.2.1-value-crlf", "RFC 9113 §8.2.1: a field value containing CR LF → malformed", () => responseBlock(200, [["x-bad", "a\r\nb"]])),
  malformed("8.2.1-value-nul", "RFC 9113 §8.2.1: a field value containing NUL → malformed", () => responseBlock(200, [["x-bad", "a\u0000b"]])),
  malformed("8.2.2-connection", "RFC 9113 §8.2.2: a Connection header → malformed", () => responseBlock(200, [["connection", "close"]])),
  malformed("8.2.2-keep-alive", "RFC 9113 §8.2.2: a Keep-Alive header → malformed", () => responseBlock(200, [["keep-alive", "timeout=5"]])),
  malformed("8.2.2-transfer-encoding", "RFC 9113 §8.2.2: a Transfer-Encoding header → malformed", () =>
    responseBlock(200, [["transfer-encoding", "chunked"]]),
  ),
  malformed("8.2.2-upgrade", "RFC 9113 §8.2.2: an Upgrade header → malformed", () => responseBlock(200, [["upgrade", "h2c"]])),
  malformed("8.3-pseudo-after-regular", "RFC 9113 §8.3: a pseudo-header after a regular field → malformed", () =>
    Buffer.concat([literal("x-first", "1"), status200()]),
  ),
  malformed("8.3-unknown-pseudo", "RFC 9113 §8.3: an unknown pseudo-header → malformed", () => Buffer.concat([status200(), literal(":foo", "bar")])),
  malformed("8.3-request-pseudo", "RFC 9113 §8.3: a request pseudo-header (:method) in a response → malformed", () =>
    Buffer.concat([status200(), literal(":method", "GET")]),
  ),
  malformed("8.3.2-missing-status", "RFC 9113 §8.3.2: a response without :status → malformed", () => literal("x-only", "1")),
  malformed("8.3-duplicate-status", "RFC 9113 §8.3: :status twice → malformed", () => Buffer.concat([status200(), status200()])),
  malformed("8.3.2-status-not-a-number", "RFC 9113 §8.3.2: a :status that is not a 3-digit code → malformed", () =>
    literal(":status", "2xx"),
  ),
  malformed("8.1-1xx-end-stream", "RFC 9113 §8.1: an informational (1xx) HEADERS with END_STREAM → malformed", () => literal(":status", "103")),
  {
    id: "8.1.1-content-length-short",
    name: "RFC 9113 §8.1.1: DATA shorter than content-length at END_STREAM → stream error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200, [["content-length", "10"]])), data(ctx.stream, Buffer.from("ok"), true));
      await expectStreamError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "8.1.1-content-length-long",
    name: "RFC 9113 §8.1.1: DATA longer than content-length → stream error PROTOCOL_ERROR",
    async run(ctx) {
      ctx.conn.send(headers(ctx.stream, responseBlock(200, [["content-length", "1"]])), data(ctx.stream, Buffer.from("ok"), true));
      await expectStreamError(ctx, ErrorCode.PROTOCOL_ERROR);
    },
  },
  {
    id: "8.1.1-content-length-ok",
    name: "RFC 9113 §8.1.1: DATA matching content-length over several frames is a clean response",
    async run(ctx) {
      ctx.conn.send(
        headers(ctx.stream, responseBlock(200, [["content-length", "2"]])),
        data(ctx.stream, Buffer.from("o")),
        data(ctx.stream, Buffer.from("k")),
        data(ctx.stream, Buffer.alloc(0), true),
      );
      await expectClean(ctx.call);
    },
  },
  {
    id: "8.1-informational",
    name: "RFC 9113 §8.1: informational responses (100, 103) are skipped; the consumer sees only the final one",
    async run(ctx) {
      ctx.conn.send(
        headers(ctx.stream, responseBlock(100)),
        headers(ctx.stream, responseBlock(103, [["link", "</a.css>; rel=preload"]])),
        headers(ctx.stream, responseBlock(200, [["x-final", "1"]])),
        data(ctx.stream, Buffer.from("ok"), true),
      );
      await expectClean(ctx.call);
      assert.equal(ctx.call.responses[0]["x-final"], "1");
    },
  },
  {
    id: "8.1-trailers",
    name: "RFC 9113 §8.1: trailers (HEADERS with END_STREAM after DATA) reach the consumer",
    async run(ctx) {
      ctx.conn.send(
        headers(ctx.stream, responseBlock(200, [["content-type", "application/grpc"]])),
        data(ctx.stream, Buffer.from("ok")),
        headers(ctx.stream, Buffer.concat([literal("grpc-status", "0"), literal("grpc-message", "fine")]), { endStream: true }),
      );
      await expectClean(ctx.call);
      assert.equal(ctx.call.trailers?.["grpc-status"], "0");
      assert.equal(ctx.call.trailers["grpc-message"], "fine");
    },
  },
  {
    id: "8.1-trailers-without-end-stream",
    name: "RFC 9113 §8.1: a second HEADERS without END_STREAM after the final response → malformed",
    async run(ctx) {
      ctx.conn.send(
        headers(ctx.stream, responseBlock(200)),
        data(ctx.stream, Buffer.from("ok")),
        headers(ctx.stream, literal("x-trailer", "1")),
      );
      await expectStreamError(ctx, ErrorCode.PROTOCOL_ERROR);
      assert.equal(ctx.call.trailers, undefined, "no trailers delivered");
    },
  },
  {
    id: "8.1-trailers-pseudo",
    name: "RFC 9113 §8.1/§8.3: trailers carrying a pseudo-header → malformed",
    async run(ctx) {
      ctx.conn.send(
        headers(ctx.stream, responseBlock(200)),
        data(ctx.stream, Buffer.from("ok")),
        headers(ctx.stream, Buffer.concat([literal(":status", "200"), literal("x-trailer", "1")]), { endStream: true }),
      );
      await expectStreamError(ctx, ErrorCode.PROTOCOL_ERROR);
      assert.equal(ctx.call.trailers, undefined, "no trailers delivered");
    },
  },
];
