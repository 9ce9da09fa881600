/**
 * Retries: route retry_policy {retry_on: unavailable, num_retries: 2} over a cluster of two endpoints,
 * one answering UNAVAILABLE trailers-only to everything, one healthy: every call succeeds. (Envoy retries
 * only gRPC statuses in response headers, i.e. trailers-only responses.)
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_PATH_PREFIX } from "../helpers/echo-proto.js";
import { startEchoServer } from "../helpers/echo-server.js";
import { describeStatus, unary } from "../helpers/grpc-client.js";
import { startSidecar } from "../helpers/sidecar.js";

void describe("retries", { timeout: 60_000 }, () => {
  void it("20 calls succeed although one of two endpoints answers UNAVAILABLE trailers-only", { timeout: 40_000 }, async (t) => {
    const healthy = await startEchoServer({ name: "healthy" });
    t.after(() => healthy.close());
    const bad = await startEchoServer({ name: "bad", failAll: { code: grpc.status.UNAVAILABLE, message: "bad endpoint" } });
    t.after(() => bad.close());
    const sidecar = await startSidecar(
      bootstrapYaml({
        listeners: [
          {
            name: "outbound",
            routes: [{ prefix: ECHO_PATH_PREFIX, cluster: "echo", retryPolicy: { retryOn: "unavailable", numRetries: 2 } }],
          },
        ],
        clusters: [{ name: "echo", endpoints: [bad.port, healthy.port] }],
      }),
    );
    t.after(() => sidecar.stop());
    const client = createEchoClient(sidecar.port("outbound"));
    t.after(() => client.close());

    const failures: string[] = [];
    for (let i = 0; i < 20; i++) {
      const out = await unary(client, { message: `r${i}` });
      if (out.status.code !== grpc.status.OK) failures.push(`call ${i}: ${describeStatus(out.status)}`);
      else assert.equal(out.messages[0]?.message, `r${i}`);
    }
    assert.deepEqual(failures, [], `failed calls (bad endpoint saw ${bad.calls.length}, healthy ${healthy.calls.length})`);
    assert.equal(healthy.calls.length, 20, "healthy endpoint should serve every call exactly once");
    assert.ok(bad.calls.length > 0, "the bad endpoint was never tried: the test proves nothing about retries");
  });
});
