/**
 * Graceful drain: SIGTERM while a ~1 s server stream is in flight. The call completes OK with every
 * message, /ready answers 503 while draining (if the admin port still answers), the process exits 0,
 * and afterwards the listener port refuses new connections.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeStatus, serverStream } from "../helpers/grpc-client.js";
import { startEchoStack } from "../helpers/stack.js";
import { deferred, http1Request, pollUntil, tryConnect, withTimeout } from "../helpers/util.js";

void describe("graceful drain on SIGTERM", { timeout: 60_000 }, () => {
  void it("in-flight server stream completes OK, /ready 503 while draining, exit code 0, listener closed", { timeout: 40_000 }, async (t) => {
    const stack = await startEchoStack();
    t.after(() => stack.close());
    const { sidecar } = stack;

    const ready = await http1Request({ port: sidecar.adminPort ?? -1, path: "/ready" }).catch((e: unknown) =>
      e instanceof Error ? e : new Error(String(e)),
    );
    assert.ok(!(ready instanceof Error) && ready.status === 200, `admin /ready before drain: ${ready instanceof Error ? ready.message : ready.status}`);

    const first = deferred<void>();
    const s = serverStream(stack.client, { responseCount: 10, intervalMs: 100, message: "drain" }, {
      timeoutMs: 20_000,
      onMessage: () => first.resolve(),
    });
    await withTimeout(first.promise, 10_000, "first message of the in-flight stream");

    assert.ok(sidecar.proc.kill("SIGTERM"), "could not signal the sidecar");

    // While the stream is still running the sidecar is draining: /ready must say so if it answers.
    // Bounded poll: the signal is handled asynchronously, so the first answers may predate it.
    const during = await pollUntil(
      async () => {
        const r = await http1Request({ port: sidecar.adminPort ?? -1, path: "/ready", timeoutMs: 1000 }).catch((e: unknown) =>
          e instanceof Error ? e : new Error(String(e)),
        );
        return r instanceof Error || r.status !== 200 ? r : undefined;
      },
      { timeoutMs: 700, intervalMs: 25, label: "admin /ready leaving 200 after SIGTERM (while a stream is in flight)" },
    );
    if (!(during instanceof Error)) {
      assert.equal(during.status, 503, `admin /ready during drain answered ${during.status} ${during.body}`);
    } else {
      t.diagnostic(`admin /ready during drain not reachable: ${during.message}`);
    }

    const out = await s.done;
    assert.equal(out.status.code, grpc.status.OK, `in-flight stream: ${describeStatus(out.status)}\n${sidecar.tail()}`);
    assert.equal(out.messages.length, 10, "in-flight stream lost messages");

    const exit = await withTimeout(sidecar.exited, 15_000, `sidecar exit after SIGTERM\n${sidecar.tail()}`);
    assert.deepEqual(exit, { code: 0, signal: null }, `sidecar exit after SIGTERM\n${sidecar.tail()}`);

    assert.equal(await tryConnect(stack.port), "refused", "listener port still accepts connections after exit");
  });
});
