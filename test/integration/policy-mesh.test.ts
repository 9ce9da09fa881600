/**
 * mesh.yaml `policies` and `rateLimit`, translated by the real discovery server into RBAC and local
 * rate limit filters and pushed to a real sidecar over ADS, then changed at runtime: a gRPC-method
 * allow rule, a route-wide deny-by-header rule, removal of all policies, and an upstream rate limit.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseStats } from "../helpers/admin.js";
import { adsSidecarBootstrap, echoMeshYaml, startControlPlane, type ControlPlane } from "../helpers/control-plane.js";
import { createEchoClient, ECHO_SERVICE, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { clientStream, describeStatus, unary } from "../helpers/grpc-client.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { closedPort, until } from "../helpers/util.js";

function mesh(port: number, listenerPort: number, extra: { upstream?: string[]; tail?: string[] }): string {
  return echoMeshYaml({ ports: [port], listenerPort, upstream: extra.upstream }) + (extra.tail ?? []).join("\n") + "\n";
}

async function get(sc: Sidecar, path: string): Promise<string> {
  return (await fetch(`http://127.0.0.1:${sc.adminPort}${path}`)).text();
}

void describe("mesh.yaml policies and rate limits over xDS", { timeout: 120_000 }, () => {
  let echo: EchoServer | undefined;
  let cp: ControlPlane | undefined;
  let sc: Sidecar | undefined;
  let client: EchoClient | undefined;
  after(async () => {
    client?.close();
    await sc?.stop();
    await cp?.kill();
    await echo?.close();
  });

  void test("an allow rule by gRPC method, a deny rule by header, removal, and an upstream rate limit, all changed at runtime", async () => {
    echo = await startEchoServer();
    const listenerPort = await closedPort();
    const onlyUnary = [
      "policies:",
      "  - name: echo-callers",
      "    listeners: [echo]",
      "    rules:",
      `      - grpcMethods: [${ECHO_SERVICE}/Unary]`,
      "        sources: [127.0.0.0/8]",
    ];
    cp = await startControlPlane(mesh(echo.port, listenerPort, { tail: onlyUnary }));
    sc = await startSidecar(adsSidecarBootstrap(cp.xdsPort));
    const c = (client = createEchoClient(listenerPort));

    await until("the listener to serve Unary", 10_000, async () => (await unary(c, { message: "hi" }, { deadlineMs: 1000 })).status.code === grpc.status.OK);
    const denied = await clientStream(c, [{ message: "x" }]);
    assert.equal(denied.status.code, grpc.status.PERMISSION_DENIED, describeStatus(denied.status));

    // Runtime change: now only ClientStream is allowed, and a route-wide deny policy refuses x-blocked.
    await cp.writeMesh(
      mesh(echo.port, listenerPort, {
        tail: [
          "policies:",
          "  - name: echo-callers",
          "    listeners: [echo]",
          "    rules:",
          `      - grpcMethods: [${ECHO_SERVICE}/ClientStream]`,
          "  - name: no-blocked",
          "    routes: [echo-route]",
          "    action: deny",
          "    rules:",
          "      - headers: [{ name: x-blocked, present: true }]",
        ],
      }),
    );
    await until("ClientStream to be allowed", 10_000, async () => (await clientStream(c, [{ message: "x" }])).status.code === grpc.status.OK);
    assert.equal((await unary(c, { message: "x" })).status.code, grpc.status.PERMISSION_DENIED);
    const blocked = await clientStream(c, [{ message: "x" }], { metadata: { "x-blocked": "1" } });
    assert.equal(blocked.status.code, grpc.status.PERMISSION_DENIED, describeStatus(blocked.status));
    const s1 = parseStats(await get(sc, "/stats"));
    assert.ok((s1.get("http.echo.rbac.denied") ?? 0) >= 2, "both filters count under the listener's prefix");

    // Runtime change: policies gone, the upstream limited to 1 rps with a burst of 3.
    await cp.writeMesh(mesh(echo.port, listenerPort, { upstream: ["    rateLimit: { requestsPerSecond: 1, burst: 3 }"] }));
    const scRef = sc;
    // No calls while waiting: each would take a token from the fresh bucket.
    await until("the policies to go (LDS) and the route's rate limit to arrive (RDS)", 10_000, async () => {
      const dump = await get(scRef, "/config_dump");
      return dump.includes("typedPerFilterConfig") && !dump.includes("pilotfish.authz");
    });
    const codes: grpc.status[] = [];
    const started = Date.now();
    for (let i = 0; i < 8; i++) codes.push((await unary(c, { message: `burst ${i}` })).status.code);
    const tookMs = Date.now() - started;
    const ok = codes.filter((x) => x === grpc.status.OK).length;
    const limited = codes.filter((x) => x === grpc.status.RESOURCE_EXHAUSTED).length;
    assert.equal(ok + limited, 8, `only OK or RESOURCE_EXHAUSTED: ${codes.join(",")}`);
    // 3 from the burst, plus one per whole second the burst took.
    assert.equal(ok, 3 + Math.floor(tookMs / 1000), `codes ${codes.join(",")} in ${tookMs} ms`);
    assert.deepEqual(codes.slice(0, 3), [0, 0, 0]);
    const s2 = parseStats(await get(sc, "/stats"));
    assert.equal(s2.get("ratelimit.upstream.echo.http_local_rate_limit.rate_limited"), limited);
    assert.equal(s2.get("http.echo.response_flag.RL"), limited);
  });
});
