/**
 * Route retry_policy on plain HTTP over h2c upstreams:
 * (a) retry_on 5xx, num_retries 2, two endpoints one of which always answers 503: every request succeeds,
 *     and no request is sent to the 503 endpoint twice (a retry avoids hosts already tried).
 * (b) the replay buffer (1 MiB): a 2 MiB POST whose first attempt fails after the body was read is not
 *     retried (client sees the 503, upstream saw one attempt); a 100 KiB POST is retried and succeeds.
 * (c) per_try_timeout 200ms with one hanging and one healthy endpoint: every request succeeds in bounded
 *     time and the abandoned attempts are reset upstream.
 */
import assert from "node:assert/strict";
import type * as http2 from "node:http2";
import { describe, it } from "node:test";
import { bootstrapYaml, type RouteSpec } from "../helpers/bootstrap.js";
import { connectH2, startProgrammableH2 } from "../helpers/programmable-upstreams.js";
import { startSidecar } from "../helpers/sidecar.js";
import { patternBytes, pollUntil } from "../helpers/util.js";

function retryBootstrap(endpoints: number[], retryPolicy: RouteSpec["retryPolicy"], timeout = "10s"): string {
  return bootstrapYaml({
    listeners: [{ name: "outbound", routes: [{ prefix: "/", cluster: "svc", timeout, retryPolicy }] }],
    clusters: [{ name: "svc", endpoints }],
  });
}

function countBy(values: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** An upstream, a sidecar with retry_on 5xx / num_retries 2, and an h2 client on it. */
async function failFirstAttemptStack(t: { after(fn: () => unknown): void }) {
  // One endpoint: the first attempt of each request id fails with 503 after reading the whole body;
  // a second attempt succeeds and reports the body length it received.
  const attempts = new Map<string, number>();
  const up = await startProgrammableH2({
    handler: (_s, ctx) => {
      const id = String(ctx.req.headers["x-req-id"]);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (n === 1) return { status: 503, body: `first attempt fails after reading ${ctx.req.body.length} bytes` };
      return { status: 200, body: `ok attempt ${n} len=${ctx.req.body.length}` };
    },
  });
  t.after(() => up.close());
  const sidecar = await startSidecar(retryBootstrap([up.port], { retryOn: "5xx", numRetries: 2 }));
  t.after(() => sidecar.stop());
  const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
  t.after(() => client.close());
  return { up, client };
}

void describe("retry_policy", { timeout: 120_000 }, () => {
  void it("(a) 5xx retries over two endpoints: all succeed, the 503 endpoint is never tried twice per request", { timeout: 40_000 }, async (t) => {
    const bad = await startProgrammableH2({ handler: () => ({ status: 503, body: "bad endpoint" }) });
    t.after(() => bad.close());
    const good = await startProgrammableH2({ handler: (_s, ctx) => ({ status: 200, body: `good ${ctx.req.path}` }) });
    t.after(() => good.close());
    const sidecar = await startSidecar(retryBootstrap([bad.port, good.port], { retryOn: "5xx", numRetries: 2 }));
    t.after(() => sidecar.stop());
    const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
    t.after(() => client.close());

    const N = 30;
    const failures: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = await client.request({ path: `/r/${i}`, headers: { "x-req-id": String(i) } });
      if (r.status !== 200 || r.body.toString() !== `good /r/${i}`) failures.push(`request ${i}: ${r.status} ${r.body.toString()}`);
    }
    assert.deepEqual(failures, []);
    const badHits = countBy(bad.requests.map((r) => String(r.headers["x-req-id"])));
    const goodHits = countBy(good.requests.map((r) => String(r.headers["x-req-id"])));
    assert.ok(bad.requests.length > 0, "the 503 endpoint was never tried: the test proves nothing about retries");
    assert.ok(bad.requests.length <= N, `503 endpoint hits ${bad.requests.length} > requests ${N}`);
    const repeated = [...badHits].filter(([, n]) => n > 1);
    assert.deepEqual(repeated, [], "a retry went back to the 503 endpoint although another host exists");
    for (let i = 0; i < N; i++) assert.equal(goodHits.get(String(i)), 1, `healthy endpoint should serve request ${i} exactly once`);
  });

  void it("(b1) a 2 MiB body (beyond the 1 MiB replay buffer) whose first attempt fails is not retried", { timeout: 40_000 }, async (t) => {
    const { up, client } = await failFirstAttemptStack(t);
    const big = patternBytes(2 * 1024 * 1024, 7);
    const rBig = await client.request({
      path: "/upload",
      method: "POST",
      body: big,
      headers: { "x-req-id": "big", "content-type": "application/octet-stream" },
      timeoutMs: 20_000,
    });
    assert.equal(rBig.status, 503, `2 MiB body: expected the first attempt's failure, got ${rBig.status} ${rBig.body.toString()}`);
    const bigAttempts = up.requests.filter((r) => r.headers["x-req-id"] === "big");
    assert.equal(bigAttempts.length, 1, "a body that outgrew the replay buffer must not be retried");
    assert.ok(bigAttempts[0].body.equals(big), "the single attempt carried the whole body");
    // As Envoy: a response that cannot be retried is passed through, not replaced by a local reply.
    assert.equal(rBig.body.toString(), `first attempt fails after reading ${big.length} bytes`, "the upstream's own 503 body reaches the client");
  });

  void it("(b2) a 100 KiB body whose first attempt fails is replayed and succeeds", { timeout: 40_000 }, async (t) => {
    const { up, client } = await failFirstAttemptStack(t);
    const small = patternBytes(100 * 1024, 3);
    const rSmall = await client.request({
      path: "/upload",
      method: "POST",
      body: small,
      headers: { "x-req-id": "small", "content-type": "application/octet-stream" },
    });
    assert.equal(rSmall.status, 200, rSmall.body.toString());
    assert.equal(rSmall.body.toString(), `ok attempt 2 len=${small.length}`);
    const smallAttempts = up.requests.filter((r) => r.headers["x-req-id"] === "small");
    assert.equal(smallAttempts.length, 2);
    for (const a of smallAttempts) assert.ok(a.body.equals(small), "each attempt carried the same, complete body");
  });

  void it("(c) per_try_timeout 200ms: a hanging endpoint does not stall requests", { timeout: 40_000 }, async (t) => {
    const hung: http2.ServerHttp2Stream[] = [];
    const hang = await startProgrammableH2({ handler: (stream) => void hung.push(stream) });
    t.after(() => hang.close());
    const good = await startProgrammableH2({ handler: (_s, ctx) => ({ status: 200, body: `good ${ctx.req.path}` }) });
    t.after(() => good.close());
    const sidecar = await startSidecar(
      retryBootstrap([hang.port, good.port], { retryOn: "5xx,reset", numRetries: 2, perTryTimeout: "0.2s" }),
    );
    t.after(() => sidecar.stop());
    const client = await connectH2(`http://127.0.0.1:${sidecar.port("outbound")}`);
    t.after(() => client.close());

    const N = 10;
    const slow: string[] = [];
    for (let i = 0; i < N; i++) {
      const started = Date.now();
      const r = await client.request({ path: `/p/${i}`, timeoutMs: 8000 });
      const ms = Date.now() - started;
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.body.toString()}`);
      assert.equal(r.body.toString(), `good /p/${i}`);
      // One per-try timeout (200 ms) plus backoff and slack; far below the 10 s route timeout.
      if (ms > 1500) slow.push(`request ${i} took ${ms} ms`);
    }
    assert.deepEqual(slow, []);
    assert.ok(hang.requests.length > 0, "the hanging endpoint was never tried: the test proves nothing");
    assert.equal(good.requests.length, N);
    // Abandoned attempts are reset upstream, not left hanging.
    await pollUntil(() => hung.every((s) => s.closed || s.destroyed), { timeoutMs: 3000, label: "hung attempts reset upstream" });
  });
});
