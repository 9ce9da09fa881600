/**
 * gRPC failure paths through the sidecar: cancellation both ways, deadlines (grpc-timeout propagation),
 * upstream killed mid-stream, upstream down, unknown routes, and that every local reply to a gRPC
 * request carries grpc-status and grpc-message.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_PATH_PREFIX, serializeEchoRequest, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer } from "../helpers/echo-server.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { startEchoStack, type EchoStack } from "../helpers/stack.js";
import { bidi, describeStatus, serverStream, unary } from "../helpers/grpc-client.js";
import { closedPort, deferred, grpcFrame, http2Request, withTimeout } from "../helpers/util.js";

/**
 * Slack for "upstream deadline <= client deadline": grpc-timeout has ms resolution, and the upstream's
 * deadline also includes the loopback transit client -> sidecar -> upstream (event-loop lag in this
 * process included; 9 ms seen even directly under load). On loopback this cannot tell a decremented
 * grpc-timeout from an unchanged one; it catches a missing, enlarged or replaced deadline.
 */
const DEADLINE_SLACK_MS = 50;

const GRPC_HEADERS = { "content-type": "application/grpc", te: "trailers" } as const;

void describe("cancellation and deadlines through the sidecar", { timeout: 120_000 }, () => {
  let stack: EchoStack;

  before(async () => {
    stack = await startEchoStack();
  });
  after(async () => {
    await stack?.close();
  });

  void it("client cancels a server stream: the upstream call observes 'cancelled'", { timeout: 15_000 }, async () => {
    const first = deferred<void>();
    const n = stack.echo.calls.length;
    const s = serverStream(stack.client, { responseCount: 10_000, intervalMs: 20 }, { onMessage: () => first.resolve() });
    const rec = await stack.echo.waitForCall(n);
    await withTimeout(first.promise, 5000, "first streamed message");
    s.call.cancel();
    const out = await s.done;
    assert.equal(out.status.code, grpc.status.CANCELLED, describeStatus(out.status));
    await withTimeout(rec.whenCancelled, 5000, "upstream observing the client's cancellation of a server stream");
    assert.equal(rec.statusSent, false);
  });

  void it("client cancels a bidi stream: the upstream call observes 'cancelled'", { timeout: 15_000 }, async () => {
    const first = deferred<void>();
    const n = stack.echo.calls.length;
    const b = bidi(stack.client, { onMessage: () => first.resolve() });
    b.call.write({ message: "a" });
    const rec = await stack.echo.waitForCall(n);
    await withTimeout(first.promise, 5000, "first bidi response");
    const cancelAt = Date.now();
    b.call.cancel();
    const out = await b.done;
    assert.equal(out.status.code, grpc.status.CANCELLED, describeStatus(out.status));
    // node's HTTP/2 client cancels by ending its side (END_STREAM) and then resetting (RST_STREAM) in a
    // later write; the sidecar forwards both in that order, as Envoy would. An upstream that answers the
    // half-close before the reset arrives has ended the call itself: either way its call must end
    // promptly and must not stay open.
    await withTimeout(rec.whenDone, 5000, "upstream call ending after the client's cancellation of a bidi stream");
    assert.ok(
      rec.cancelled || rec.halfClosedAt !== null,
      `upstream saw the cancel as a reset or as the client's END_STREAM (cancelled ${rec.cancelled}, half-closed ${rec.halfClosedAt !== null}); cancelAt ${cancelAt}`,
    );
  });

  void it("upstream ends a call with CANCELLED: the client gets CANCELLED (unary, trailers-only, server stream)", { timeout: 15_000 }, async () => {
    const u = await unary(stack.client, { statusCode: grpc.status.CANCELLED, statusMessage: "server cancelled" });
    assert.equal(u.status.code, grpc.status.CANCELLED, describeStatus(u.status));
    const t = await unary(stack.client, { statusCode: grpc.status.CANCELLED, statusMessage: "server cancelled", trailersOnly: true });
    assert.equal(t.status.code, grpc.status.CANCELLED, describeStatus(t.status));
    const s = await serverStream(stack.client, { responseCount: 2, statusCode: grpc.status.CANCELLED, statusMessage: "server cancelled" }).done;
    assert.equal(s.status.code, grpc.status.CANCELLED, describeStatus(s.status));
    assert.equal(s.messages.length, 2);
  });

  for (const kind of ["unary", "server stream"] as const) {
    void it(`deadline 300 ms on a hanging ${kind}: DEADLINE_EXCEEDED in bounded time; upstream got a deadline no later than the client's and saw the call end`, { timeout: 15_000 }, async () => {
      const n = stack.echo.calls.length;
      const start = Date.now();
      const clientDeadline = start + 300;
      const done =
        kind === "unary"
          ? unary(stack.client, { hang: true }, { deadlineMs: 300 })
          : serverStream(stack.client, { hang: true }, { deadlineMs: 300 }).done;
      const rec = await stack.echo.waitForCall(n);
      const out = await done;
      assert.equal(out.status.code, grpc.status.DEADLINE_EXCEEDED, describeStatus(out.status));
      const elapsed = out.endedAt - start;
      assert.ok(elapsed >= 250 && elapsed < 2000, `DEADLINE_EXCEEDED after ${elapsed} ms (want ~300 ms, < 2000)`);
      assert.notEqual(rec.deadline, null, "upstream call has no deadline: grpc-timeout was not propagated");
      assert.ok(
        rec.deadline! <= clientDeadline + DEADLINE_SLACK_MS,
        `upstream deadline ${rec.deadline! - start} ms after start is later than the client's (300 ms, slack ${DEADLINE_SLACK_MS})`,
      );
      assert.ok(rec.timeoutMs! > 0 && rec.timeoutMs! <= 300, `upstream timeout ${rec.timeoutMs} ms`);
      await withTimeout(rec.whenCancelled, 3000, "upstream call ending (cancel or its own deadline) after the client's deadline");
      assert.ok(rec.cancelledAt! - start < 2000, `upstream call ended ${rec.cancelledAt! - start} ms after start`);
    });
  }

  void it("unknown route: gRPC client gets UNIMPLEMENTED with a message", { timeout: 15_000 }, async () => {
    const status = await withTimeout(
      new Promise<grpc.StatusObject>((resolve) => {
        const call = stack.client.makeUnaryRequest(
          "/pilotfish.test.Nope/Call",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          new grpc.Metadata(),
          {},
          () => undefined,
        );
        call.on("status", resolve);
      }),
      10_000,
      "status of a call to an unknown route",
    );
    assert.equal(status.code, grpc.status.UNIMPLEMENTED, describeStatus(status));
    assert.ok(status.details.length > 0, "grpc-message is empty");
  });

  void it("unknown route, raw HTTP/2 gRPC request: :status 200 trailers-only with grpc-status 12 and grpc-message", { timeout: 15_000 }, async () => {
    const res = await http2Request({
      port: stack.port,
      method: "POST",
      path: "/pilotfish.test.Nope/Call",
      headers: GRPC_HEADERS,
      body: grpcFrame(Buffer.alloc(0)),
    });
    assert.equal(res.headers[":status"], 200);
    assert.equal(res.headers["grpc-status"], "12", `headers: ${JSON.stringify(res.headers)}`);
    assert.equal(typeof res.headers["grpc-message"], "string", "grpc-message missing");
    assert.ok(String(res.headers["content-type"]).startsWith("application/grpc"), `content-type ${res.headers["content-type"]}`);
    assert.equal(res.headersEndStream, true, "not a trailers-only response");
  });

  void it("unknown route, plain HTTP/2 GET: 404", { timeout: 15_000 }, async () => {
    const res = await http2Request({ port: stack.port, path: "/no/such/route" });
    assert.equal(res.headers[":status"], 404);
  });
});

void describe("deadline propagation with time spent in the sidecar", { timeout: 60_000 }, () => {
  // The first attempt goes to an endpoint that answers UNAVAILABLE (trailers-only) after 150 ms; the
  // retry goes to a hanging endpoint. The retry must carry the *remaining* time (about 250 ms of 400),
  // not the original grpc-timeout: its deadline may not be later than the client's.
  void it("a retried attempt carries the remaining time in grpc-timeout", { timeout: 40_000 }, async (t) => {
    const slow = await startEchoServer({ name: "slow-bad", failAll: { code: grpc.status.UNAVAILABLE, message: "slow bad", delayMs: 150 } });
    t.after(() => slow.close());
    const hang = await startEchoServer({ name: "hang" });
    t.after(() => hang.close());
    const sidecar = await startSidecar(
      bootstrapYaml({
        listeners: [{ name: "outbound", routes: [{ prefix: ECHO_PATH_PREFIX, cluster: "echo", retryPolicy: { retryOn: "unavailable", numRetries: 1 } }] }],
        clusters: [{ name: "echo", endpoints: [slow.port, hang.port] }],
      }),
    );
    t.after(() => sidecar.stop());
    const client = createEchoClient(sidecar.port("outbound"));
    t.after(() => client.close());

    // Which endpoint is picked first is the balancer's choice: try until a call went slow -> hang.
    for (let attempt = 0; attempt < 8; attempt++) {
      const hangBefore = hang.calls.length;
      const slowBefore = slow.calls.length;
      const start = Date.now();
      const out = await unary(client, { hang: true }, { deadlineMs: 400 });
      assert.equal(out.status.code, grpc.status.DEADLINE_EXCEEDED, describeStatus(out.status));
      const retried = slow.calls.length > slowBefore && hang.calls.length > hangBefore;
      if (!retried) continue;
      const rec = hang.calls[hangBefore];
      assert.ok(rec.receivedAt - start >= 140, `retry reached the upstream ${rec.receivedAt - start} ms after start`);
      assert.notEqual(rec.deadline, null, "retried attempt carries no deadline");
      assert.ok(
        rec.deadline! <= start + 400 + DEADLINE_SLACK_MS,
        `retried attempt's deadline is ${rec.deadline! - start} ms after start, the client's is 400 ms (timeout sent upstream: ${rec.timeoutMs} ms)`,
      );
      return;
    }
    assert.fail(`no call was retried from the slow endpoint to the hanging one (slow saw ${slow.calls.length}, hang saw ${hang.calls.length})`);
  });
});

void describe("upstream killed mid-stream", { timeout: 120_000 }, () => {
  void it("grpc-js client gets UNAVAILABLE after the messages already sent", { timeout: 30_000 }, async (t) => {
    const stack = await startEchoStack();
    t.after(() => stack.close());
    const three = deferred<void>();
    const s = serverStream(stack.client, { responseCount: 1000, intervalMs: 20 }, {
      onMessage: (m) => {
        if (m.index >= 2) three.resolve();
      },
    });
    await withTimeout(three.promise, 10_000, "three streamed messages");
    stack.echo.kill();
    const out = await s.done;
    assert.equal(out.status.code, grpc.status.UNAVAILABLE, describeStatus(out.status));
    assert.ok(out.messages.length >= 3 && out.messages.length < 1000);
  });

  void it("raw HTTP/2: headers were sent, so the call ends with grpc-status 14 in trailers", { timeout: 30_000 }, async (t) => {
    const stack = await startEchoStack();
    t.after(() => stack.close());
    const session = http2.connect(`http://127.0.0.1:${stack.port}`);
    session.on("error", () => undefined);
    t.after(() => session.destroy());
    const req = session.request({ ":method": "POST", ":path": `${ECHO_PATH_PREFIX}ServerStream`, ...GRPC_HEADERS }, { endStream: false });
    req.end(grpcFrame(serializeEchoRequest({ responseCount: 1000, intervalMs: 20 })));
    const gotData = deferred<void>();
    const ended = deferred<{ headers?: http2.IncomingHttpHeaders; trailers?: http2.IncomingHttpHeaders; err?: Error }>();
    let headers: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on("response", (h) => (headers = h));
    req.on("trailers", (tr) => (trailers = tr));
    req.on("data", () => gotData.resolve());
    req.on("end", () => ended.resolve({ headers, trailers, err: req.rstCode ? new Error(`rstCode ${req.rstCode}`) : undefined }));
    req.on("error", (err) => ended.resolve({ headers, trailers, err }));
    req.on("close", () => ended.resolve({ headers, trailers, err: new Error(`stream closed, rstCode ${req.rstCode}`) }));
    await withTimeout(gotData.promise, 10_000, "first DATA frame");
    stack.echo.kill();
    const res = await withTimeout(ended.promise, 10_000, "downstream stream end after upstream kill");
    assert.equal(res.headers?.[":status"], 200);
    assert.equal(res.trailers?.["grpc-status"], "14", `expected trailers with grpc-status 14, got trailers ${JSON.stringify(res.trailers)} (${res.err?.message ?? "no error"}, rstCode ${req.rstCode})`);
  });

  void it("raw HTTP/2: no headers yet, so the call ends trailers-only with grpc-status 14", { timeout: 30_000 }, async (t) => {
    const stack = await startEchoStack();
    t.after(() => stack.close());
    const n = stack.echo.calls.length;
    const pending = http2Request({
      port: stack.port,
      method: "POST",
      path: `${ECHO_PATH_PREFIX}Unary`,
      headers: GRPC_HEADERS,
      body: grpcFrame(serializeEchoRequest({ hang: true })),
      timeoutMs: 10_000,
    });
    await stack.echo.waitForCall(n);
    stack.echo.kill();
    const res = await pending;
    assert.equal(res.headers[":status"], 200);
    assert.equal(res.headers["grpc-status"], "14", `headers: ${JSON.stringify(res.headers)}`);
    assert.equal(res.headersEndStream, true, "expected a trailers-only response");
  });
});

void describe("upstream down (cluster pointing at a closed port)", { timeout: 60_000 }, () => {
  let sidecar: Sidecar;
  let client: EchoClient;

  before(async () => {
    const port = await closedPort();
    sidecar = await startSidecar(
      bootstrapYaml({
        listeners: [{ name: "outbound", routes: [{ prefix: "/", cluster: "down" }] }],
        clusters: [{ name: "down", endpoints: [port], connectTimeout: "0.5s" }],
      }),
    );
    client = createEchoClient(sidecar.port("outbound"));
  });
  after(async () => {
    client?.close();
    await sidecar?.stop();
  });

  void it("gRPC call gets UNAVAILABLE", { timeout: 15_000 }, async () => {
    const out = await unary(client, { message: "x" });
    assert.equal(out.status.code, grpc.status.UNAVAILABLE, describeStatus(out.status));
  });

  void it("raw HTTP/2 gRPC request gets grpc-status 14 with grpc-message", { timeout: 15_000 }, async () => {
    const res = await http2Request({
      port: sidecar.port("outbound"),
      method: "POST",
      path: `${ECHO_PATH_PREFIX}Unary`,
      headers: GRPC_HEADERS,
      body: grpcFrame(serializeEchoRequest({})),
    });
    assert.equal(res.headers[":status"], 200);
    assert.equal(res.headers["grpc-status"], "14", `headers: ${JSON.stringify(res.headers)}`);
    assert.equal(typeof res.headers["grpc-message"], "string");
  });

  void it("plain HTTP/2 GET gets 503", { timeout: 15_000 }, async () => {
    const res = await http2Request({ port: sidecar.port("outbound"), path: "/anything" });
    assert.equal(res.headers[":status"], 503);
  });
});
