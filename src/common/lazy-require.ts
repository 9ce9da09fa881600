/**
 * Modules a sidecar may never need, loaded on first use instead of at start.
 *
 * Why: a sidecar with a static bootstrap, no tracing and no gRPC health checks never touches
 * @grpc/grpc-js (~9 MiB of RSS with its dependencies) nor the OpenTelemetry SDK and OTLP exporters
 * (~5 MiB more), yet ES `import` statements load them at start and keep them. `require` of an ES
 * module is synchronous on Node 22+, so the first caller simply gets the module, no await needed.
 *
 * The same holds for three of node's own modules: node:tls (with node:crypto and OpenSSL's setup) is
 * needed only once a listener or a cluster has TLS, node:http2 only for the node:http2 codecs, and
 * node:crypto alone only for the first request id. Loaded at start, the three cost a plaintext sidecar
 * ~4.5 MiB of RSS (docs/performance.md, "Memory at idle").
 */
import { createRequire } from "node:module";
import type * as NodeCrypto from "node:crypto";
import type * as NodeHttp2 from "node:http2";
import type * as NodeTls from "node:tls";
import type * as GrpcJs from "@grpc/grpc-js";
import type * as AdsClientModule from "../xds/ads-client.js";
import type * as TracingModule from "../telemetry/tracing.js";

const requireHere = createRequire(import.meta.url);

/** @grpc/grpc-js (a CommonJS package: the same instance an `import` would give). */
export function grpcJs(): typeof GrpcJs {
  return requireHere("@grpc/grpc-js") as typeof GrpcJs;
}

/** The ADS client (and with it grpc-js and the generated ADS service). */
export function adsClientModule(): typeof AdsClientModule {
  return requireHere("../xds/ads-client.js") as typeof AdsClientModule;
}

/** The tracing pipeline (OpenTelemetry SDK, propagators, OTLP exporters). */
export function tracingModule(): typeof TracingModule {
  return requireHere("../telemetry/tracing.js") as typeof TracingModule;
}

/** node:tls (and with it node:crypto): for TLS listeners, TLS upstreams and certificate material. */
export function nodeTls(): typeof NodeTls {
  return requireHere("node:tls") as typeof NodeTls;
}

/** node:crypto: request ids, certificate checks. */
export function nodeCrypto(): typeof NodeCrypto {
  return requireHere("node:crypto") as typeof NodeCrypto;
}

/** node:http2: only the node:http2 codecs (`PILOTFISH_DOWNSTREAM_H2=node`, `PILOTFISH_UPSTREAM_H2=node`) use it. */
export function nodeHttp2(): typeof NodeHttp2 {
  return requireHere("node:http2") as typeof NodeHttp2;
}
