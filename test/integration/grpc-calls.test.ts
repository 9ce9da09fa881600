/**
 * gRPC through the sidecar: the four call kinds, metadata both ways (headers and trailers), OK and error
 * statuses (also trailers-only), and 16 MiB messages each way arriving byte-identical.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startEchoStack, type EchoStack } from "../helpers/stack.js";
import { bidi, clientStream, describeStatus, mdString, serverStream, unary } from "../helpers/grpc-client.js";
import { deferred, patternBytes, withTimeout } from "../helpers/util.js";

const MiB = 1024 * 1024;

function sha256(...bufs: Buffer[]): string {
  const h = createHash("sha256");
  for (const b of bufs) h.update(b);
  return h.digest("hex");
}

/** Request metadata every call sends: an ASCII key and a binary (-bin) key. */
function requestMetadata(tag: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("x-request-tag", tag);
  md.set("x-binary-bin", Buffer.from([0, 1, 2, 250, 255]));
  return md;
}

function assertRequestMetadataArrived(stack: EchoStack, tag: string): void {
  const rec = stack.echo.calls.find((c) => mdString(c.metadata, "x-request-tag") === tag);
  assert.ok(rec, `upstream saw no call tagged ${tag}; calls: ${stack.echo.calls.map((c) => JSON.stringify(c.metadata.toJSON())).join(", ")}`);
  const bin = rec.metadata.get("x-binary-bin")[0];
  assert.ok(Buffer.isBuffer(bin) && bin.equals(Buffer.from([0, 1, 2, 250, 255])), `binary metadata arrived as ${String(bin)}`);
}

void describe("gRPC calls through the sidecar", { timeout: 120_000 }, () => {
  let stack: EchoStack;

  before(async () => {
    stack = await startEchoStack();
  });
  after(async () => {
    await stack?.close();
  });

  void it("unary: request metadata reaches the server; header and trailer metadata reach the client", { timeout: 15_000 }, async () => {
    const out = await unary(
      stack.client,
      { message: "hello", echoMetadata: true, responseHeaders: { "x-resp-header": "h1" }, responseTrailers: { "x-resp-trailer": "t1" } },
      { metadata: requestMetadata("unary-ok") },
    );
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.equal(out.messages.length, 1);
    assert.equal(out.messages[0].message, "hello");
    assertRequestMetadataArrived(stack, "unary-ok");
    assert.equal(mdString(out.headers, "x-resp-header"), "h1", "response header metadata");
    assert.equal(mdString(out.headers, "x-request-tag"), "unary-ok", "echoed request metadata in headers");
    assert.equal(mdString(out.status.metadata, "x-resp-trailer"), "t1", "trailer metadata");
    assert.equal(mdString(out.status.metadata, "x-request-tag"), "unary-ok", "echoed request metadata in trailers");
  });

  void it("server streaming: all messages in order, headers and trailers", { timeout: 15_000 }, async () => {
    const { done } = serverStream(
      stack.client,
      { message: "ss", responseCount: 10, responseSize: 100, echoMetadata: true, responseHeaders: { "x-resp-header": "h2" }, responseTrailers: { "x-resp-trailer": "t2" } },
      { metadata: requestMetadata("server-stream-ok") },
    );
    const out = await done;
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.deepEqual(out.messages.map((m) => m.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const m of out.messages) assert.ok(m.payload.equals(patternBytes(100, 0)));
    assertRequestMetadataArrived(stack, "server-stream-ok");
    assert.equal(mdString(out.headers, "x-resp-header"), "h2");
    assert.equal(mdString(out.status.metadata, "x-resp-trailer"), "t2");
    assert.equal(mdString(out.status.metadata, "x-request-tag"), "server-stream-ok");
  });

  void it("client streaming: every request reaches the server; one response with headers and trailers", { timeout: 15_000 }, async () => {
    const payloads = [randomBytes(10), randomBytes(2000), randomBytes(70_000)];
    const out = await clientStream(
      stack.client,
      payloads.map((payload, i) =>
        i === 0
          ? { message: "cs", payload, echoMetadata: true, responseHeaders: { "x-resp-header": "h3" }, responseTrailers: { "x-resp-trailer": "t3" } }
          : { payload },
      ),
      { metadata: requestMetadata("client-stream-ok") },
    );
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.equal(out.messages[0]?.receivedCount, 3);
    assert.equal(out.messages[0]?.receivedSize, 10 + 2000 + 70_000);
    assert.equal(out.messages[0]?.receivedSha256, sha256(...payloads));
    assertRequestMetadataArrived(stack, "client-stream-ok");
    assert.equal(mdString(out.headers, "x-resp-header"), "h3");
    assert.equal(mdString(out.status.metadata, "x-resp-trailer"), "t3");
  });

  void it("bidi: interleaved ping-pong (each response before the next request), headers and trailers", { timeout: 15_000 }, async () => {
    let waiter = deferred<void>();
    const b = bidi(stack.client, {
      metadata: requestMetadata("bidi-ok"),
      onMessage: () => waiter.resolve(),
    });
    for (let i = 0; i < 5; i++) {
      waiter = deferred<void>();
      b.call.write(
        i === 0
          ? { message: `ping${i}`, echoMetadata: true, responseHeaders: { "x-resp-header": "h4" }, responseTrailers: { "x-resp-trailer": "t4" } }
          : { message: `ping${i}` },
      );
      // The stream must carry each response back while the request side is still open.
      await withTimeout(waiter.promise, 5000, `bidi response to ping${i} before half-close`);
    }
    b.call.end();
    const out = await b.done;
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.deepEqual(out.messages.map((m) => m.message), ["ping0", "ping1", "ping2", "ping3", "ping4"]);
    assertRequestMetadataArrived(stack, "bidi-ok");
    assert.equal(mdString(out.headers, "x-resp-header"), "h4");
    assert.equal(mdString(out.status.metadata, "x-resp-trailer"), "t4");
  });

  const errorCases: Array<[string, grpc.status, string]> = [
    ["NOT_FOUND", grpc.status.NOT_FOUND, "no such thing"],
    ["INVALID_ARGUMENT", grpc.status.INVALID_ARGUMENT, "bad argument: field x"],
    ["PERMISSION_DENIED", grpc.status.PERMISSION_DENIED, "denied for user ünïcödé / 100%"],
  ];
  for (const [name, code, message] of errorCases) {
    void it(`unary ${name} after headers: code, message and trailer metadata pass through`, { timeout: 15_000 }, async () => {
      const out = await unary(stack.client, {
        statusCode: code,
        statusMessage: message,
        responseHeaders: { "x-resp-header": "err-h" },
        responseTrailers: { "x-resp-trailer": "err-t" },
      });
      assert.equal(out.status.code, code, describeStatus(out.status));
      assert.equal(out.status.details, message);
      assert.equal(mdString(out.headers, "x-resp-header"), "err-h");
      assert.equal(mdString(out.status.metadata, "x-resp-trailer"), "err-t");
    });

    void it(`unary ${name} trailers-only: code, message and trailer metadata pass through`, { timeout: 15_000 }, async () => {
      const out = await unary(stack.client, {
        statusCode: code,
        statusMessage: message,
        trailersOnly: true,
        responseTrailers: { "x-resp-trailer": "only-t" },
      });
      assert.equal(out.status.code, code, describeStatus(out.status));
      assert.equal(out.status.details, message);
      assert.equal(mdString(out.status.metadata, "x-resp-trailer"), "only-t");
      assert.equal(out.messages.length, 0);
    });
  }

  void it("server streaming ending in an error after messages: messages then status in trailers", { timeout: 15_000 }, async () => {
    const out = await serverStream(stack.client, {
      responseCount: 3,
      statusCode: grpc.status.RESOURCE_EXHAUSTED,
      statusMessage: "quota",
      responseTrailers: { "x-resp-trailer": "ss-err" },
    }).done;
    assert.equal(out.status.code, grpc.status.RESOURCE_EXHAUSTED, describeStatus(out.status));
    assert.equal(out.status.details, "quota");
    assert.equal(out.messages.length, 3);
    assert.equal(mdString(out.status.metadata, "x-resp-trailer"), "ss-err");
  });

  void it("server streaming trailers-only error", { timeout: 15_000 }, async () => {
    const out = await serverStream(stack.client, { statusCode: grpc.status.NOT_FOUND, statusMessage: "gone", trailersOnly: true }).done;
    assert.equal(out.status.code, grpc.status.NOT_FOUND, describeStatus(out.status));
    assert.equal(out.status.details, "gone");
    assert.equal(out.messages.length, 0);
  });

  void it("client streaming and bidi errors", { timeout: 15_000 }, async () => {
    const cs = await clientStream(stack.client, [{ statusCode: grpc.status.FAILED_PRECONDITION, statusMessage: "cs-fail" }, {}]);
    assert.equal(cs.status.code, grpc.status.FAILED_PRECONDITION, describeStatus(cs.status));
    assert.equal(cs.status.details, "cs-fail");

    const b = bidi(stack.client);
    b.call.write({ message: "one" });
    b.call.write({ message: "two", statusCode: grpc.status.ABORTED, statusMessage: "bidi-abort" });
    const bo = await b.done;
    b.call.end();
    assert.equal(bo.status.code, grpc.status.ABORTED, describeStatus(bo.status));
    assert.equal(bo.status.details, "bidi-abort");
    assert.deepEqual(bo.messages.map((m) => m.message), ["one", "two"]);
  });

  void it("16 MiB unary request and 16 MiB response arrive byte-identical", { timeout: 60_000 }, async () => {
    const big = randomBytes(16 * MiB);
    const out = await unary(stack.client, { payload: big, responseSize: 16 * MiB, payloadSeed: 7 }, { timeoutMs: 45_000 });
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    const res = out.messages[0];
    assert.equal(res.receivedSize, 16 * MiB, "request size at the server");
    assert.equal(res.receivedSha256, sha256(big), "request bytes at the server");
    assert.equal(res.payload.length, 16 * MiB, "response size at the client");
    assert.ok(res.payload.equals(patternBytes(16 * MiB, 7)), "response bytes at the client");
  });

  void it("16 MiB messages each way on a bidi stream arrive byte-identical", { timeout: 60_000 }, async () => {
    const big = randomBytes(16 * MiB);
    const b = bidi(stack.client, { timeoutMs: 45_000 });
    b.call.write({ payload: big, responseSize: 16 * MiB, payloadSeed: 9 });
    b.call.end();
    const out = await b.done;
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.equal(out.messages.length, 1);
    assert.equal(out.messages[0].receivedSha256, sha256(big));
    assert.ok(out.messages[0].payload.equals(patternBytes(16 * MiB, 9)));
  });
});
