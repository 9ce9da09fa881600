/** Envoy's response flags reach the stats: each local reply is counted under its flag. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseStats } from "../helpers/admin.js";
import { createEchoClient } from "../helpers/echo-proto.js";
import { unary } from "../helpers/grpc-client.js";
import { startEchoStack, type EchoStack } from "../helpers/stack.js";
import { closedPort } from "../helpers/util.js";
import { echoBootstrap } from "../helpers/bootstrap.js";
import { startSidecar } from "../helpers/sidecar.js";

async function stats(adminPort: number | null): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats`);
  return parseStats(await res.text());
}

void describe("response flags in stats", { timeout: 60_000 }, () => {
  let stack: EchoStack;
  before(async () => {
    stack = await startEchoStack();
  });
  after(async () => {
    await stack.close();
  });

  void it("no route counts NR; a served request counts no flag", async () => {
    const generic = new grpc.Client(`127.0.0.1:${stack.port}`, grpc.credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) => {
        generic.makeUnaryRequest("/nowhere.Service/Method", (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (err) => resolve(err?.code ?? 0));
      });
      assert.equal(code, grpc.status.UNIMPLEMENTED);
    } finally {
      generic.close();
    }
    const ok = await unary(stack.client, { message: "hi" });
    assert.equal(ok.status.code, grpc.status.OK);
    const s = await stats(stack.sidecar.adminPort);
    assert.equal(s.get("http.outbound.response_flag.NR"), 1);
    assert.equal([...s.keys()].filter((k) => k.startsWith("http.outbound.response_flag.")).length, 1, "only NR was counted");
  });

  void it("an upstream that refuses connections counts UF", async () => {
    const port = await closedPort();
    const sc = await startSidecar(echoBootstrap([port]));
    const client = createEchoClient(sc.port("outbound"));
    try {
      const out = await unary(client, { message: "x" });
      assert.equal(out.status.code, grpc.status.UNAVAILABLE);
      const s = await stats(sc.adminPort);
      assert.equal(s.get("http.outbound.response_flag.UF"), 1);
    } finally {
      client.close();
      await sc.stop();
    }
  });
});
