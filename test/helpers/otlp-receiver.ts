/**
 * An OTLP trace receiver for tests, decoding with the official opentelemetry-proto files vendored in
 * test/fixtures/otlp (from @opentelemetry/otlp-grpc-exporter-base@0.38.0, Apache-2.0). It serves
 * OTLP/gRPC (TraceService/Export) and OTLP/HTTP protobuf (POST /v1/traces) on 127.0.0.1, each on its
 * own port, and flattens every received span with its resource attributes.
 *
 * `blackHole()` turns it into a collector that accepts connections and never answers.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { delay } from "./util.js";

const PROTO_DIR = fileURLToPath(new URL("../fixtures/otlp", import.meta.url));

/** One received span, ids as lowercase hex. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  /** SPAN_KIND_SERVER, SPAN_KIND_CLIENT, ... */
  kind: string;
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
  /** STATUS_CODE_UNSET, STATUS_CODE_OK, STATUS_CODE_ERROR */
  statusCode: string;
  /** Which transport brought it. */
  via: "grpc" | "http";
}

export interface OtlpReceiver {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly spans: ReceivedSpan[];
  /** Export requests received (both transports). */
  readonly requests: number;
  /** Waits until at least `n` spans arrived (bounded). */
  waitForSpans(n: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** From now on, accept requests and never answer them. */
  blackHole(): void;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string;
  doubleValue?: number;
  boolValue?: boolean;
  value?: string;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId: string;
        name: string;
        kind: string;
        attributes?: KeyValue[];
        status?: { code?: string };
      }[];
    }[];
  }[];
}

function attrs(kvs: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value;
    if (v === undefined) continue;
    if (v.value === "stringValue") out[kv.key] = v.stringValue ?? "";
    else if (v.value === "intValue") out[kv.key] = Number(v.intValue);
    else if (v.value === "doubleValue") out[kv.key] = v.doubleValue ?? 0;
    else if (v.value === "boolValue") out[kv.key] = v.boolValue ?? false;
  }
  return out;
}

function hex(b64: string): string {
  return Buffer.from(b64, "base64").toString("hex");
}

function flatten(req: ExportRequest, via: "grpc" | "http"): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          attributes: attrs(s.attributes),
          resource,
          statusCode: s.status?.code ?? "STATUS_CODE_UNSET",
          via,
        });
      }
    }
  }
  return out;
}

/** Starts both transports on ephemeral ports. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const def = protoLoader.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", {
    includeDirs: [PROTO_DIR],
    longs: String,
    enums: String,
    bytes: String,
    defaults: true,
    oneofs: true,
  });
  const svc = def["opentelemetry.proto.collector.trace.v1.TraceService"] as grpc.ServiceDefinition;
  const exportDef = svc.Export as grpc.MethodDefinition<ExportRequest, object>;
  const spans: ReceivedSpan[] = [];
  let requests = 0;
  let holing = false;
  const held: Array<() => void> = [];

  const server = new grpc.Server();
  server.addService(svc, {
    Export: (call: grpc.ServerUnaryCall<ExportRequest, object>, cb: grpc.sendUnaryData<object>) => {
      requests++;
      if (holing) {
        held.push(() => cb({ code: grpc.status.UNAVAILABLE }));
        return;
      }
      spans.push(...flatten(call.request, "grpc"));
      cb(null, {});
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );

  const httpServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests++;
      if (holing) {
        held.push(() => res.destroy());
        return;
      }
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      try {
        spans.push(...flatten(exportDef.requestDeserialize(Buffer.concat(chunks)), "http"));
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const httpPort = (httpServer.address() as AddressInfo).port;

  return {
    grpcPort,
    httpPort,
    spans,
    get requests() {
      return requests;
    },
    async waitForSpans(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (spans.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} spans, got ${spans.length}: ${JSON.stringify(spans.map((s) => s.name))}`);
        await delay(25);
      }
      return spans;
    },
    blackHole() {
      holing = true;
    },
    async close() {
      for (const f of held.splice(0)) f();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      server.forceShutdown();
    },
  };
}
