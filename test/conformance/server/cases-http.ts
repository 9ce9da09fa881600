/**
 * Server conformance cases: HTTP semantics (RFC 9113 §8). Every malformed request is a stream error
 * PROTOCOL_ERROR that leaves the connection usable (or a connection error) and never reaches the
 * upstream (§8.1.1: an intermediary MUST NOT forward a malformed request); well-formed ones, with
 * bodies and trailers, arrive upstream intact.
 */
import assert from "node:assert/strict";
import { data, ErrorCode, headers, literal } from "../../helpers/h2-frames.js";
import type { Fields } from "./hpack-codec.js";
import { expectBodyRejected, expectForwarded, expectMalformed, expectResponse, expectStreamError, expectNoneComplete, requestFields, type ServerCase, type ServerCaseContext } from "./server-kit.js";

/** A request whose header block is `fields(ctx)` (END_STREAM set): malformed, never forwarded. */
function malformed(id: string, name: string, fields: (ctx: ServerCaseContext) => Fields): ServerCase {
  return {
    id,
    name,
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(fields(ctx)), { endStream: true }));
      await expectMalformed(ctx, c, 1);
    },
  };
}

/** A GET on the case's "bad" path with `extra` fields after the pseudo-headers. */
function getWith(extra: Fields): (ctx: ServerCaseContext) => Fields {
  return (ctx) => ctx.get("bad", extra);
}

/** A request with a body declared as `contentLength` and sent as `chunks` (the last with END_STREAM). */
function contentLength(id: string, name: string, declared: number, chunks: readonly string[]): ServerCase {
  return {
    id,
    name,
    async run(ctx) {
      const c = await ctx.connect();
      const frames = chunks.map((s, i) => data(1, Buffer.from(s), i === chunks.length - 1));
      c.send(headers(1, c.block(ctx.post("bad", [["content-length", String(declared)]]))), ...frames);
      await expectBodyRejected(ctx, c, 1);
    },
  };
}

export const HTTP_CASES: readonly ServerCase[] = [
  {
    id: "8.1-get",
    name: "RFC 9113 §8.1: a GET is served end to end: the upstream gets method, path and authority; the response is well-formed",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, ctx.get("index.html?q=1", [["accept", "text/plain"]]));
      const r = await expectResponse(c, 1);
      const final = r.blocks[r.blocks.length - 1];
      assert.ok(final.some(([n, v]) => n === "content-type" && v === "text/plain"), "the upstream's content-type comes through");
      const up = ctx.forwarded();
      assert.equal(up.length, 1);
      assert.equal(up[0].method, "GET");
      assert.equal(up[0].path, ctx.path("index.html?q=1"));
      assert.equal(up[0].headers[":authority"], "conformance.test");
      assert.equal(up[0].headers.accept, "text/plain");
    },
  },
  {
    id: "8.1-head",
    name: "RFC 9113 §8.1/RFC 9110 §9.3.2: a HEAD is answered with headers and no body",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, requestFields("HEAD", ctx.path()));
      await expectResponse(c, 1, 200, "");
    },
  },
  {
    id: "8.1-post-body",
    name: "RFC 9113 §8.1: a POST body in several DATA frames reaches the upstream whole and is echoed",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post())), c.dataFrame(1, Buffer.from("hello, ")), c.dataFrame(1, Buffer.from("")), c.dataFrame(1, Buffer.from("world"), true));
      await expectResponse(c, 1, 200, "hello, world");
    },
  },
  {
    id: "8.1-trailers",
    name: "RFC 9113 §8.1: request trailers (HEADERS with END_STREAM after DATA) are accepted; the request completes upstream",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("t"))), c.dataFrame(1, Buffer.from("body")), headers(1, c.block([["x-trailer", "t1"]]), { endStream: true }));
      await expectResponse(c, 1, 200, "body");
      // Whether the trailer itself is forwarded is the proxy's business (the router drops request
      // trailers today); the framing is what this case judges.
      await expectForwarded(ctx, 1);
    },
  },
  {
    id: "8.1-second-headers-without-end-stream",
    name: "RFC 9113 §8.1: a second HEADERS (trailers) without END_STREAM → stream error PROTOCOL_ERROR; never completes upstream",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("bad"))), c.dataFrame(1, Buffer.from("x")), headers(1, literal("x-trailer", "t1")));
      await expectStreamError(c, 1, ErrorCode.PROTOCOL_ERROR);
      await expectNoneComplete(ctx);
    },
  },
  contentLength("8.1.1-content-length-short", "RFC 9113 §8.1.1: DATA shorter than content-length at END_STREAM → stream error PROTOCOL_ERROR; never completes upstream", 10, ["12345"]),
  contentLength("8.1.1-content-length-long", "RFC 9113 §8.1.1: DATA longer than content-length → stream error PROTOCOL_ERROR; never completes upstream", 3, ["12345"]),
  contentLength(
    "8.1.1-content-length-multi-data",
    "RFC 9113 §8.1.1: several DATA frames adding up to more than content-length → stream error PROTOCOL_ERROR",
    8,
    ["1234", "56789"],
  ),
  {
    id: "8.1.1-content-length-ok",
    name: "RFC 9113 §8.1.1: DATA matching content-length over several frames is served",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("cl", [["content-length", "9"]]))), data(1, Buffer.from("1234")), data(1, Buffer.from("56789"), true));
      await expectResponse(c, 1, 200, "123456789");
    },
  },
  malformed("8.2.1-uppercase-name", "RFC 9113 §8.2.1: an uppercase field name → malformed (stream error PROTOCOL_ERROR); not forwarded", getWith([["X-Upper", "1"]])),
  malformed("8.2.1-name-space", "RFC 9113 §8.2.1: a field name with a space → malformed; not forwarded", getWith([["x bad", "1"]])),
  malformed("8.2.1-name-colon", "RFC 9113 §8.2.1: a regular field name containing a colon → malformed; not forwarded", getWith([["x:bad", "1"]])),
  malformed("8.2.1-value-nul", "RFC 9113 §8.2.1: a field value containing NUL → malformed; not forwarded", getWith([["x-bad", "a\u0000b"]])),
  malformed("8.2.1-value-lf", "RFC 9113 §8.2.1: a field value containing LF → malformed; not forwarded", getWith([["x-bad", "a\nb"]])),
  malformed("8.2.1-value-cr", "RFC 9113 §8.2.1: a field value containing CR → malformed; not forwarded", getWith([["x-bad", "a\rb"]])),
  malformed("8.2.1-value-leading-space", "RFC 9113 §8.2.1: a field value starting with whitespace → malformed; not forwarded", getWith([["x-bad", " padded"]])),
  malformed("8.2.2-connection", "RFC 9113 §8.2.2: a Connection field → malformed; not forwarded", getWith([["connection", "keep-alive"]])),
  malformed("8.2.2-keep-alive", "RFC 9113 §8.2.2: a Keep-Alive field → malformed; not forwarded", getWith([["keep-alive", "timeout=5"]])),
  malformed("8.2.2-proxy-connection", "RFC 9113 §8.2.2: a Proxy-Connection field → malformed; not forwarded", getWith([["proxy-connection", "keep-alive"]])),
  malformed("8.2.2-transfer-encoding", "RFC 9113 §8.2.2: a Transfer-Encoding field → malformed; not forwarded", getWith([["transfer-encoding", "chunked"]])),
  malformed("8.2.2-upgrade", "RFC 9113 §8.2.2: an Upgrade field → malformed; not forwarded", getWith([["upgrade", "websocket"]])),
  malformed("8.2.2-te-not-trailers", "RFC 9113 §8.2.2: TE with a value other than \"trailers\" → malformed; not forwarded", getWith([["te", "trailers, deflate"]])),
  {
    id: "8.2.2-te-trailers",
    name: "RFC 9113 §8.2.2: TE: trailers is allowed and the request served",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, ctx.get("te", [["te", "trailers"]]));
      await expectResponse(c, 1);
    },
  },
  malformed("8.3-unknown-pseudo", "RFC 9113 §8.3: an unknown pseudo-header → malformed; not forwarded", getWith([[":foo", "bar"]])),
  malformed("8.3-response-pseudo", "RFC 9113 §8.3: a response pseudo-header (:status) in a request → malformed; not forwarded", getWith([[":status", "200"]])),
  malformed("8.3-pseudo-after-regular", "RFC 9113 §8.3: a pseudo-header after a regular field → malformed; not forwarded", (ctx) => [
    [":method", "GET"],
    [":scheme", "http"],
    ["x-regular", "1"],
    [":path", ctx.path("bad")],
    [":authority", "conformance.test"],
  ]),
  {
    id: "8.3-pseudo-in-trailers",
    name: "RFC 9113 §8.3: a pseudo-header in trailers → malformed (stream error PROTOCOL_ERROR); never completes upstream",
    async run(ctx) {
      const c = await ctx.connect();
      c.send(headers(1, c.block(ctx.post("bad"))), c.dataFrame(1, Buffer.from("x")), headers(1, c.block([[":method", "POST"]]), { endStream: true }));
      await expectBodyRejected(ctx, c, 1);
    },
  },
  malformed("8.3.1-missing-method", "RFC 9113 §8.3.1: a request without :method → malformed; not forwarded", (ctx) => [
    [":scheme", "http"],
    [":authority", "conformance.test"],
    [":path", ctx.path("bad")],
  ]),
  malformed("8.3.1-missing-scheme", "RFC 9113 §8.3.1: a request without :scheme → malformed; not forwarded", (ctx) => [
    [":method", "GET"],
    [":authority", "conformance.test"],
    [":path", ctx.path("bad")],
  ]),
  malformed("8.3.1-missing-path", "RFC 9113 §8.3.1: a request without :path → malformed; not forwarded", () => [
    [":method", "GET"],
    [":scheme", "http"],
    [":authority", "conformance.test"],
  ]),
  malformed("8.3.1-empty-path", "RFC 9113 §8.3.1: an empty :path → malformed; not forwarded", () => requestFields("GET", "")),
  malformed("8.3.1-duplicate-method", "RFC 9113 §8.3: :method twice → malformed; not forwarded", getWith([[":method", "GET"]])),
  malformed("8.3.1-duplicate-scheme", "RFC 9113 §8.3: :scheme twice → malformed; not forwarded", getWith([[":scheme", "http"]])),
  malformed("8.3.1-duplicate-path", "RFC 9113 §8.3: :path twice → malformed; not forwarded", (ctx) => ctx.get("bad", [[":path", ctx.path("bad2")]])),
  {
    id: "8.3.1-host-without-authority",
    name: "RFC 9113 §8.3.1: a request with Host and no :authority is well-formed and served",
    async run(ctx) {
      const c = await ctx.connect();
      c.request(1, [
        [":method", "GET"],
        [":scheme", "http"],
        [":path", ctx.path()],
        ["host", "conformance.test"],
      ]);
      await expectResponse(c, 1);
      await expectForwarded(ctx, 1);
    },
  },
  malformed("8.5-connect-with-path", "RFC 9113 §8.5: CONNECT with :scheme and :path → malformed; not forwarded", (ctx) => requestFields("CONNECT", ctx.path("bad"))),
];
