/**
 * Modules a sidecar may never need, loaded on first use instead of at start.
 *
 * Why: a sidecar with a static bootstrap, no tracing and no gRPC health checks never touches
 * @grpc/grpc-js (~9 MiB of RSS with its dependencies) nor the OpenTelemetry SDK and OTLP exporters
 * (~5 MiB more), yet ES `import` statements load them at start and keep them. `require` of an ES
 * module is synchronous on Node 22+, so the first caller simply gets the module, no await needed.
 */
import { createRequire } from "node:module";
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
