/** Upstream HTTP/2 connection lifecycle: idle close and keepalive PINGs, from the cluster's protocol options. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { connectH2, startProgrammableH2 } from "../helpers/programmable-upstreams.js";
import { startSidecar } from "../helpers/sidecar.js";
import { withTimeout } from "../helpers/util.js";

function bootstrapWith(port: number, protocolOptions: Record<string, unknown>): string {
  const b = bootstrapObject({ listeners: [{ name: "outbound" }], clusters: [{ name: "echo", endpoints: [port] }] }) as {
    static_resources: { clusters: Record<string, unknown>[] };
  };
  const opts = b.static_resources.clusters[0].typed_extension_protocol_options as Record<string, Record<string, unknown>>;
  Object.assign(opts["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], protocolOptions);
  return stringify(b);
}

void describe("upstream connection lifecycle", { timeout: 30_000 }, () => {
  void it("an idle upstream connection closes after common_http_protocol_options.idle_timeout", async () => {
    const up = await startProgrammableH2();
    const sc = await startSidecar(bootstrapWith(up.port, { common_http_protocol_options: { idle_timeout: "0.3s" } }));
    const client = await connectH2(`http://127.0.0.1:${sc.port("outbound")}`);
    try {
      const res = await client.request({ path: "/pilotfish.test.Echo/x" });
      assert.equal(res.status, 200);
      const session = up.sessions[0];
      const started = Date.now();
      await withTimeout(new Promise<void>((r) => session.once("close", () => r())), 3000, "upstream connection closed");
      const after = Date.now() - started;
      assert.ok(after >= 150, `closed after the idle timeout, not at once (${after} ms)`);
    } finally {
      client.close();
      await sc.stop();
      await up.close();
    }
  });

  void it("connection_keepalive sends PINGs on an idle upstream connection", async () => {
    const up = await startProgrammableH2();
    const sc = await startSidecar(
      bootstrapWith(up.port, {
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: "0.1s", timeout: "1s" } } },
      }),
    );
    const client = await connectH2(`http://127.0.0.1:${sc.port("outbound")}`);
    try {
      const res = await client.request({ path: "/pilotfish.test.Echo/x" });
      assert.equal(res.status, 200);
      const session = up.sessions[0];
      let pings = 0;
      await withTimeout(
        new Promise<void>((r) =>
          session.on("ping", () => {
            if (++pings === 3) r();
          }),
        ),
        3000,
        "three keepalive PINGs",
      );
      assert.ok(!session.closed, "the connection stays up while PINGs are answered");
    } finally {
      client.close();
      await sc.stop();
      await up.close();
    }
  });
});
