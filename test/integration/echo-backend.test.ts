/**
 * Self-test of the test backend: the Echo server and client helpers, directly (no sidecar). If these
 * fail, the sidecar tests' verdicts mean nothing. They also pin the reference behaviour the sidecar must
 * preserve (trailers-only shape, cancellation, deadlines, kill).
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createEchoClient, serializeEchoRequest, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { bidi, clientStream, describeStatus, mdString, serverStream, unary } from "../helpers/grpc-client.js";
import { deferred, grpcFrame, http2Request, patternBytes, pollUntil, withTimeout } from "../helpers/util.js";

void describe("echo backend (direct, no sidecar)", { timeout: 60_000 }, () => {
  let echo: EchoServer;
  let client: EchoClient;

  before(async () => {
    echo = await startEchoServer({ name: "direct" });
    client = createEchoClient(echo.port);
  });
  after(async () => {
    client?.close();
    await echo?.close();
  });

  void it("unary echoes metadata in headers and trailers", { timeout: 10_000 }, async () => {
    const out = await unary(
      client,
      { message: "hi", echoMetadata: true, responseHeaders: { "x-h": "1" }, responseTrailers: { "x-t": "2" } },
      { metadata: { "x-req": "abc" } },
    );
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.equal(out.messages[0]?.message, "hi");
    assert.equal(mdString(out.headers, "x-req"), "abc");
    assert.equal(mdString(out.headers, "x-h"), "1");
    assert.equal(mdString(out.status.metadata, "x-req"), "abc");
    assert.equal(mdString(out.status.metadata, "x-t"), "2");
    const call = echo.calls.at(-1)!;
    assert.equal(mdString(call.metadata, "x-req"), "abc");
  });

  void it("trailers-only error is a single HEADERS frame with END_STREAM carrying grpc-status", { timeout: 10_000 }, async () => {
    const body = grpcFrame(serializeEchoRequest({ statusCode: grpc.status.NOT_FOUND, statusMessage: "nope", trailersOnly: true }));
    const res = await http2Request({
      port: echo.port,
      method: "POST",
      path: "/pilotfish.test.Echo/Unary",
      headers: { "content-type": "application/grpc", te: "trailers" },
      body,
    });
    assert.equal(res.headers[":status"], 200);
    assert.equal(res.headersEndStream, true);
    assert.equal(res.headers["grpc-status"], "5");
    assert.equal(res.headers["grpc-message"], "nope");
  });

  void it("server stream, client stream, bidi", { timeout: 10_000 }, async () => {
    const ss = await serverStream(client, { message: "s", responseCount: 3 }).done;
    assert.equal(ss.status.code, grpc.status.OK, describeStatus(ss.status));
    assert.deepEqual(ss.messages.map((m) => m.index), [0, 1, 2]);

    const payload = randomBytes(1000);
    const cs = await clientStream(client, [{ payload }, { payload }]);
    assert.equal(cs.status.code, grpc.status.OK, describeStatus(cs.status));
    assert.equal(cs.messages[0]?.receivedCount, 2);
    assert.equal(cs.messages[0]?.receivedSha256, createHash("sha256").update(payload).update(payload).digest("hex"));

    const b = bidi(client);
    b.call.write({ message: "a" });
    b.call.write({ message: "b", responseCount: 2 });
    b.call.end();
    const bo = await b.done;
    assert.equal(bo.status.code, grpc.status.OK, describeStatus(bo.status));
    assert.deepEqual(bo.messages.map((m) => m.message), ["a", "b", "b"]);
  });

  void it("large payload both ways", { timeout: 20_000 }, async () => {
    const big = randomBytes(16 * 1024 * 1024);
    const out = await unary(client, { payload: big, responseSize: 16 * 1024 * 1024, payloadSeed: 3 });
    assert.equal(out.status.code, grpc.status.OK, describeStatus(out.status));
    assert.equal(out.messages[0]?.receivedSha256, createHash("sha256").update(big).digest("hex"));
    assert.ok(out.messages[0]?.payload.equals(patternBytes(16 * 1024 * 1024, 3)));
  });

  void it("client cancel is observed by the server; deadline reaches the server", { timeout: 10_000 }, async () => {
    const before = echo.calls.length;
    const s = serverStream(client, { hang: true });
    const rec = await echo.waitForCall(before);
    s.call.cancel();
    const out = await s.done;
    assert.equal(out.status.code, grpc.status.CANCELLED);
    await withTimeout(rec.whenCancelled, 3000, "server saw cancel");

    const first = deferred<void>();
    const b = bidi(client, { onMessage: () => first.resolve() });
    b.call.write({ message: "a" });
    const brec = await echo.waitForCall(before + 1);
    await withTimeout(first.promise, 3000, "first bidi response");
    b.call.cancel();
    assert.equal((await b.done).status.code, grpc.status.CANCELLED);
    await withTimeout(brec.whenCancelled, 3000, "server saw bidi cancel");
    assert.equal(brec.statusSent, false);

    const start = Date.now();
    const d = await unary(client, { hang: true }, { deadlineMs: 300 });
    assert.equal(d.status.code, grpc.status.DEADLINE_EXCEEDED);
    const drec = echo.calls.at(-1)!;
    assert.ok(drec.deadline !== null && drec.deadline <= start + 300 + 50, `server deadline ${drec.deadline} vs ${start + 300}`);
    await withTimeout(drec.whenCancelled, 3000, "server saw deadline end");
  });

  void it("kill() ends a running stream abruptly (direct grpc-js sees the reset as CANCELLED)", { timeout: 10_000 }, async () => {
    const victim = await startEchoServer({ name: "victim" });
    const c = createEchoClient(victim.port);
    try {
      const three = deferred<void>();
      const s = serverStream(c, { responseCount: 1000, intervalMs: 20 }, {
        onMessage: (m) => {
          if (m.index >= 2) three.resolve();
        },
      });
      await withTimeout(three.promise, 5000, "three messages");
      victim.kill();
      const out = await s.done;
      assert.notEqual(out.status.code, grpc.status.OK, describeStatus(out.status));
      assert.ok(out.messages.length >= 3 && out.messages.length < 1000);
    } finally {
      c.close();
      victim.kill();
    }
  });

  void it("a paused client holds back a 1 GiB server stream (server waits for 'drain')", { timeout: 15_000 }, async () => {
    const n = echo.calls.length;
    const first = deferred<void>();
    const s = serverStream(client, { responseCount: 1024, responseSize: 1024 * 1024 }, {
      onMessage: (_m, call) => {
        call.pause();
        first.resolve();
      },
    });
    const rec = await echo.waitForCall(n);
    await withTimeout(first.promise, 5000, "first message");
    await pollUntil(() => rec.waitingForDrain, { timeoutMs: 5000, label: "server blocked on drain" });
    const written = rec.messagesWritten;
    s.call.cancel();
    await s.done;
    await withTimeout(rec.whenCancelled, 3000, "server saw cancel");
    assert.ok(written < 1024 && rec.backpressureEvents > 0, `written ${written}`);
  });

  void it("failAll answers trailers-only UNAVAILABLE", { timeout: 10_000 }, async () => {
    const bad = await startEchoServer({ name: "bad", failAll: { code: grpc.status.UNAVAILABLE } });
    const c = createEchoClient(bad.port);
    try {
      const out = await unary(c, { message: "x" });
      assert.equal(out.status.code, grpc.status.UNAVAILABLE);
    } finally {
      c.close();
      await bad.close();
    }
  });
});
