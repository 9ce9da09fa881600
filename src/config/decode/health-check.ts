/**
 * Cluster.health_checks → HealthCheckConfig, shared by the bootstrap and CDS. Envoy has no defaults for
 * timeout, interval and the thresholds: they are required, as in Envoy. At most one check per cluster
 * (Envoy: "Multiple health checks not supported").
 */
import type { HeaderValueOption as PbHeaderValueOption } from "../../gen/envoy/config/core/v3/base.js";
import type { HealthCheck } from "../../gen/envoy/config/core/v3/health_check.js";
import type { HealthCheckConfig, HealthCheckerConfig, HeaderValueOption, StatusRange } from "../model.js";
import { boundedUint, decodeHeaderMutations, durationMs } from "./common.js";
import { at, Errors, idx, show } from "./field-errors.js";

/** Envoy's default no_traffic_interval. */
export const DEFAULT_NO_TRAFFIC_INTERVAL_MS = 60_000;
/** Envoy's default expected statuses: 200 only. */
const DEFAULT_EXPECTED: readonly StatusRange[] = [{ start: 200, end: 201 }];

export function decodeHealthChecks(list: readonly HealthCheck[], path: string, errors: Errors): HealthCheckConfig[] {
  if (list.length > 1) errors.add(path, `at most one health check per cluster (got ${list.length}), as in Envoy`);
  return list.map((hc, i) => decodeHealthCheck(hc, idx(path, i), errors));
}

function decodeHealthCheck(hc: HealthCheck, path: string, errors: Errors): HealthCheckConfig {
  const required = (ms: number | undefined, field: string): number => {
    if (ms === undefined) {
      errors.add(at(path, field), "required");
      return 1000;
    }
    if (!(ms > 0)) errors.add(at(path, field), "must be greater than 0");
    return ms;
  };
  const timeoutMs = required(hc.timeout && durationMs(hc.timeout, 0), "timeout");
  const intervalMs = required(hc.interval && durationMs(hc.interval, 0), "interval");
  const threshold = (v: number | undefined, field: string): number => {
    if (v === undefined) {
      errors.add(at(path, field), "required");
      return 1;
    }
    return boundedUint(v, at(path, field), errors, 1, 1);
  };
  const optionalPositive = (d: HealthCheck["interval"], field: string, dflt: number): number => {
    if (d === undefined) return dflt;
    const ms = durationMs(d, dflt);
    if (!(ms > 0)) errors.add(at(path, field), "must be greater than 0");
    return ms;
  };
  const nonNegative = (d: HealthCheck["interval"], field: string): number => {
    const ms = durationMs(d, 0);
    if (ms < 0) errors.add(at(path, field), "must not be negative");
    return ms;
  };
  const noTrafficIntervalMs = optionalPositive(hc.noTrafficInterval, "no_traffic_interval", DEFAULT_NO_TRAFFIC_INTERVAL_MS);
  const unhealthyIntervalMs = optionalPositive(hc.unhealthyInterval, "unhealthy_interval", intervalMs);
  if (hc.intervalJitterPercent > 100) {
    errors.add(at(path, "interval_jitter_percent"), `value ${hc.intervalJitterPercent} is outside 0..100`);
  }
  return {
    timeoutMs,
    intervalMs,
    initialJitterMs: nonNegative(hc.initialJitter, "initial_jitter"),
    intervalJitterMs: nonNegative(hc.intervalJitter, "interval_jitter"),
    intervalJitterPercent: hc.intervalJitterPercent,
    unhealthyThreshold: threshold(hc.unhealthyThreshold, "unhealthy_threshold"),
    healthyThreshold: threshold(hc.healthyThreshold, "healthy_threshold"),
    reuseConnection: hc.reuseConnection ?? true,
    noTrafficIntervalMs,
    noTrafficHealthyIntervalMs: optionalPositive(hc.noTrafficHealthyInterval, "no_traffic_healthy_interval", noTrafficIntervalMs),
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: optionalPositive(hc.unhealthyEdgeInterval, "unhealthy_edge_interval", unhealthyIntervalMs),
    healthyEdgeIntervalMs: optionalPositive(hc.healthyEdgeInterval, "healthy_edge_interval", intervalMs),
    checker: decodeChecker(hc, path, errors),
  };
}

function decodeChecker(hc: HealthCheck, path: string, errors: Errors): HealthCheckerConfig {
  const c = hc.healthChecker;
  if (c === undefined) {
    errors.add(at(path, "health_checker"), "one of http_health_check or grpc_health_check is required");
    return { kind: "grpc", serviceName: "", authority: undefined, initialMetadata: [] };
  }
  if (c.$case === "grpcHealthCheck") {
    const p = at(path, "grpc_health_check");
    return {
      kind: "grpc",
      serviceName: c.value.serviceName,
      authority: c.value.authority === "" ? undefined : c.value.authority,
      initialMetadata: headersToAdd(c.value.initialMetadata, at(p, "initial_metadata"), errors),
    };
  }
  const p = at(path, "http_health_check");
  const h = c.value;
  if (h.path === "") errors.add(at(p, "path"), "required");
  else if (!h.path.startsWith("/")) errors.add(at(p, "path"), `${show(h.path)} must start with "/"`);
  const muts = decodeHeaderMutations(
    { requestHeadersToAdd: h.requestHeadersToAdd, requestHeadersToRemove: h.requestHeadersToRemove, responseHeadersToAdd: [], responseHeadersToRemove: [] },
    p,
    errors,
  );
  const expectedStatuses: StatusRange[] = h.expectedStatuses.map((r, i) => {
    const start = Number(r.start);
    const end = Number(r.end);
    // Envoy: [start, end) within [100, 600).
    if (start < 100 || end > 600 || start >= end) {
      errors.add(idx(at(p, "expected_statuses"), i), `range [${start}, ${end}) must lie within [100, 600) and not be empty`);
    }
    return { start, end };
  });
  return {
    kind: "http",
    host: h.host === "" ? undefined : h.host,
    path: h.path,
    expectedStatuses: expectedStatuses.length > 0 ? expectedStatuses : DEFAULT_EXPECTED,
    requestHeadersToAdd: muts.requestToAdd,
    requestHeadersToRemove: muts.requestToRemove,
  };
}

/** Header additions under a field other than `request_headers_to_add` (errors keep the real field name). */
function headersToAdd(list: readonly PbHeaderValueOption[], path: string, errors: Errors): HeaderValueOption[] {
  const local = new Errors();
  const m = decodeHeaderMutations(
    { requestHeadersToAdd: [...list], requestHeadersToRemove: [], responseHeadersToAdd: [], responseHeadersToRemove: [] },
    "",
    local,
  );
  for (const e of local.list) errors.add(path + e.path.slice("request_headers_to_add".length), e.message);
  return [...m.requestToAdd];
}
