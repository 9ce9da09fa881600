/**
 * Flow control: a server streaming ~1 GiB (1024 x 1 MiB, written with backpressure) to a client that
 * stops reading after the first message must not make the sidecar buffer it: the sidecar's RSS stays
 * within 64 MiB of its pre-test RSS, and the upstream is held back (it cannot write everything).
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { describeStatus, serverStream, unary } from "../helpers/grpc-client.js";
import { startEchoStack, type EchoStack } from "../helpers/stack.js";
import { deferred, delay, withTimeout } from "../helpers/util.js";

const MiB = 1024 * 1024;
const RSS_BOUND_KB = 64 * 1024;
const OBSERVE_MS = 5000;

void describe("flow control through the sidecar", { timeout: 90_000 }, () => {
  let stack: EchoStack;

  before(async () => {
    stack = await startEchoStack();
  });
  after(async () => {
    await stack?.close();
  });

  void it("a paused client holds back a 1 GiB server stream: sidecar RSS growth < 64 MiB, upstream sees backpressure", { timeout: 60_000 }, async () => {
    // Warm up the path (pools, JIT) so the baseline is not the cold process.
    const warm = await unary(stack.client, { responseSize: 1 * MiB, payload: Buffer.alloc(MiB) });
    assert.equal(warm.status.code, grpc.status.OK, describeStatus(warm.status));
    const baselineKb = await stack.sidecar.rssKb();

    const n = stack.echo.calls.length;
    const first = deferred<void>();
    const s = serverStream(stack.client, { responseCount: 1024, responseSize: MiB, payloadSeed: 1 }, {
      timeoutMs: OBSERVE_MS + 20_000,
      onMessage: (_m, call) => {
        call.pause(); // stop reading after the first message
        first.resolve();
      },
    });
    const rec = await stack.echo.waitForCall(n);
    await withTimeout(first.promise, 10_000, "first 1 MiB message");

    let maxKb = baselineKb;
    const samples: number[] = [];
    const until = Date.now() + OBSERVE_MS;
    while (Date.now() < until) {
      await delay(250); // pacing of RSS samples, not a wait for a condition
      const kb = await stack.sidecar.rssKb();
      samples.push(kb);
      maxKb = Math.max(maxKb, kb);
    }
    const written = rec.messagesWritten;
    const stalled = rec.waitingForDrain;
    const growthKb = maxKb - baselineKb;

    s.call.cancel();
    const out = await s.done;
    assert.equal(out.status.code, grpc.status.CANCELLED, describeStatus(out.status));
    await withTimeout(rec.whenCancelled, 5000, "upstream observing cancellation of the paused stream");

    assert.ok(
      growthKb < RSS_BOUND_KB,
      `sidecar RSS grew by ${(growthKb / 1024).toFixed(1)} MiB (baseline ${(baselineKb / 1024).toFixed(1)} MiB, samples MiB: ${samples.map((k) => (k / 1024).toFixed(0)).join(",")}); upstream wrote ${written} MiB`,
    );
    assert.ok(written < 1024, `upstream wrote all ${written} messages: nothing held it back`);
    assert.ok(rec.backpressureEvents > 0, "upstream never saw write() return false");
    assert.ok(stalled, "upstream was not waiting for 'drain' at the end of the observation");

    // The sidecar still serves after all this.
    const after = await unary(stack.client, { message: "still alive" });
    assert.equal(after.status.code, grpc.status.OK, describeStatus(after.status));
  });
});
