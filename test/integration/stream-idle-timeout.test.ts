/**
 * The HCM's stream_idle_timeout, now kept by a coarse per-HCM sweep instead of a timer per stream:
 * a stream with no activity either way is reset after the timeout (not before) and counted in
 * downstream_rq_idle_timeout; a stream whose body keeps moving outlives it.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { parseStats } from "../helpers/admin.js";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { startH2Upstream, type H2Upstream } from "../helpers/h2-upstream.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { http1Request, http2Request, withTimeout } from "../helpers/util.js";

void describe("stream_idle_timeout", { timeout: 60_000 }, () => {
  let web: H2Upstream;
  let sidecar: Sidecar;
  let port: number;

  before(async () => {
    web = await startH2Upstream();
    sidecar = await startSidecar(
      bootstrapYaml({
        listeners: [{ name: "in", streamIdleTimeout: "0.4s", routes: [{ prefix: "/", cluster: "web", timeout: "0s" }] }],
        clusters: [{ name: "web", endpoints: [web.port] }],
      }),
    );
    port = sidecar.port("in");
  });
  after(async () => {
    await sidecar?.stop();
    await web?.close();
  });

  void it("resets a stream whose upstream never answers, after the timeout, and counts it", { timeout: 20_000 }, async () => {
    const start = performance.now();
    const res = await http2Request({ port, path: "/slow/forever", timeoutMs: 10_000 }).catch((e: Error) => e);
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= 400, `reset after ${elapsed.toFixed(0)} ms, before the 400 ms timeout`);
    assert.ok(elapsed < 5000, `reset only after ${elapsed.toFixed(0)} ms`);
    if (!(res instanceof Error)) assert.equal(res.rstCode, http2.constants.NGHTTP2_CANCEL, "expected a CANCEL reset");
    const stats = parseStats((await http1Request({ port: sidecar.adminPort!, path: "/stats" })).body);
    assert.equal(stats.get("http.in.downstream_rq_idle_timeout"), 1);
  });

  void it("a request body that keeps moving outlives the timeout", { timeout: 20_000 }, async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => undefined);
    try {
      const req = session.request({ ":method": "POST", ":path": "/echo" });
      const status = new Promise<number>((resolve, reject) => {
        req.on("response", (h) => resolve(Number(h[":status"])));
        req.on("close", () => reject(new Error(`stream closed without a response (rstCode ${req.rstCode})`)));
        req.on("error", reject);
      });
      status.catch(() => undefined);
      // 1.2 s of body, a chunk every 150 ms: idle never reaches 400 ms.
      for (let i = 0; i < 8; i++) {
        req.write(`chunk${i};`);
        await new Promise((r) => setTimeout(r, 150));
      }
      req.end();
      assert.equal(await withTimeout(status, 5000, "response"), 200);
    } finally {
      session.destroy();
    }
  });
});
