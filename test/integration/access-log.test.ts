/**
 * The access log: HCM `access_log` with Envoy's file and stdout loggers gives one JSON line per
 * request with Envoy-like fields, including the trace id when the request was traced; an access
 * logger Pilotfish does not have is a config error naming the field.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { stringify } from "yaml";
import { bootstrapObject } from "../helpers/bootstrap.js";
import { createEchoClient, ECHO_SERVICE } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { unary } from "../helpers/grpc-client.js";
import { runCli, startSidecar } from "../helpers/sidecar.js";
import { closedPort, pollUntil } from "../helpers/util.js";

const FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
const STDOUT_LOG = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";

function bootstrapWith(hcmExtra: Record<string, unknown>, upstreams: { echo: number; dead: number }): string {
  const doc = bootstrapObject({
    listeners: [
      {
        name: "outbound",
        routes: [
          { path: `/${ECHO_SERVICE}/ServerStream`, cluster: "dead" },
          { prefix: `/${ECHO_SERVICE}/`, cluster: "echo" },
        ],
      },
    ],
    clusters: [
      { name: "echo", endpoints: [upstreams.echo] },
      { name: "dead", endpoints: [upstreams.dead] },
    ],
  });
  const sr = doc.static_resources as { listeners: { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }[] };
  Object.assign(sr.listeners[0].filter_chains[0].filters[0].typed_config, hcmExtra);
  return stringify(doc);
}

type Line = Record<string, unknown>;

void describe("access log", { timeout: 60_000 }, () => {
  let echo: EchoServer;
  let dir: string;
  let dead: number;
  before(async () => {
    echo = await startEchoServer();
    dir = await mkdtemp(join(tmpdir(), "pilotfish-al-"));
    dead = await closedPort();
  });
  after(async () => {
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it("file logger: one JSON line per request with Envoy-like fields and the trace id", async () => {
    const path = join(dir, "logs", "access.log");
    const sc = await startSidecar(
      bootstrapWith(
        {
          access_log: [{ name: "envoy.access_loggers.file", typed_config: { "@type": FILE_LOG, path } }],
          tracing: { random_sampling: { value: 100 } },
        },
        { echo: echo.port, dead },
      ),
      // Tracing on, exporting nowhere: the access log still gets each request's trace id.
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dead}`, OTEL_BSP_MAX_QUEUE_SIZE: "8", OTEL_EXPORTER_OTLP_TIMEOUT: "500" } },
    );
    const client = createEchoClient(sc.port("outbound"));
    try {
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const ok = await unary(client, { message: "hello" }, {
        metadata: { "x-request-id": "req-1", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      assert.equal(ok.status.code, grpc.status.OK);
      const bad = await new Promise<number>((resolve) => {
        const call = client.ServerStream({ message: "x" }, new grpc.Metadata(), {});
        call.on("data", () => undefined);
        call.on("error", (e: grpc.ServiceError) => resolve(e.code));
        call.on("end", () => resolve(0));
      });
      assert.equal(bad, grpc.status.UNAVAILABLE);

      const lines = await pollUntil(
        async () => {
          const text = await readFile(path, "utf8").catch(() => "");
          const ls = text.split("\n").filter((l) => l !== "");
          return ls.length >= 2 && ls.map((l) => JSON.parse(l) as Line);
        },
        { timeoutMs: 10_000, label: "two access log lines" },
      );
      assert.equal(lines.length, 2);
      const [first, second] = lines;
      assert.equal(first.method, "POST");
      assert.equal(first.path, `/${ECHO_SERVICE}/Unary`);
      assert.equal(first.protocol, "HTTP/2");
      assert.match(String(first.authority), /^127\.0\.0\.1:\d+$/);
      assert.equal(first.response_code, 200);
      assert.equal(first.grpc_status, 0);
      assert.equal(first.response_flags, "-");
      assert.ok(Number(first.bytes_received) > 5, "request body bytes");
      assert.ok(Number(first.bytes_sent) > 5, "response body bytes");
      assert.ok(typeof first.duration_ms === "number" && first.duration_ms >= 0);
      assert.equal(first.upstream_host, `127.0.0.1:${echo.port}`);
      assert.equal(first.upstream_cluster, "echo");
      assert.equal(first.x_request_id, "req-1");
      assert.equal(first.trace_id, traceId);
      assert.equal(first.downstream_remote_address, "127.0.0.1");
      assert.ok(!Number.isNaN(Date.parse(String(first.start_time))));
      assert.equal(first.log, "access");
      assert.equal(Object.hasOwn(first, "level"), false, "no logger level in the line");

      assert.equal(second.path, `/${ECHO_SERVICE}/ServerStream`);
      assert.equal(second.grpc_status, grpc.status.UNAVAILABLE);
      assert.equal(second.response_flags, "UF");
      assert.equal(second.upstream_cluster, "dead");
      assert.equal(second.upstream_host, `127.0.0.1:${dead}`);
      assert.match(String(second.x_request_id), /^[0-9a-f-]{36}$/, "generated request id");
      assert.match(String(second.trace_id), /^[0-9a-f]{32}$/);
    } finally {
      client.close();
      await sc.stop();
    }
  });

  void it("stdout logger: lines go to stdout beside the process log", async () => {
    const sc = await startSidecar(
      bootstrapWith({ access_log: [{ name: "envoy.access_loggers.stdout", typed_config: { "@type": STDOUT_LOG } }] }, { echo: echo.port, dead }),
    );
    const client = createEchoClient(sc.port("outbound"));
    try {
      for (let i = 0; i < 3; i++) assert.equal((await unary(client, { message: `m${i}` })).status.code, grpc.status.OK);
      const lines = await pollUntil(
        () => {
          const ls = sc.logs().filter((l) => l.path === `/${ECHO_SERVICE}/Unary`);
          return ls.length >= 3 && ls;
        },
        { timeoutMs: 10_000, label: "three access log lines on stdout" },
      );
      assert.equal(lines.length, 3);
      assert.ok(lines.every((l) => l.trace_id === null && l.response_code === 200));
    } finally {
      client.close();
      await sc.stop();
    }
  });

  void it("an unwritable access log path does not stop the proxy", async () => {
    const notADir = join(dir, "plain-file");
    await writeFile(notADir, "");
    const sc = await startSidecar(
      bootstrapWith(
        { access_log: [{ name: "envoy.access_loggers.file", typed_config: { "@type": FILE_LOG, path: join(notADir, "access.log") } }] },
        { echo: echo.port, dead },
      ),
    );
    const client = createEchoClient(sc.port("outbound"));
    try {
      for (let i = 0; i < 3; i++) assert.equal((await unary(client, { message: "x" })).status.code, grpc.status.OK);
      assert.match(sc.stderr(), /access log .*access\.log disabled/);
      assert.equal(sc.proc.exitCode, null, "still running");
    } finally {
      client.close();
      await sc.stop();
    }
  });

  void it("an unknown access logger is a config error naming the field", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      bootstrapWith(
        { access_log: [{ name: "envoy.access_loggers.open_telemetry", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog" } }] },
        { echo: echo.port, dead },
      ),
    );
    const r = await runCli(["validate", file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /access_log\[0\]\.typed_config\.path/);
  });
});
