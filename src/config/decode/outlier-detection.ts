/**
 * Cluster.outlier_detection → OutlierDetectionConfig with Envoy's defaults (outlier_detection_impl.cc),
 * shared by the bootstrap and CDS. Only field 24 (`monitors`, extension monitors) is missing, and the
 * proto subset does not have it, so a bootstrap naming it is already rejected as an unknown field.
 */
import type { OutlierDetection } from "../../gen/envoy/config/cluster/v3/outlier_detection.js";
import type { OutlierDetectionConfig } from "../model.js";
import { boundedUint, durationMs } from "./common.js";
import { at, type Errors } from "./field-errors.js";

/** Envoy's defaults; `maxEjectionTimeMs` is really max(300 s, base). */
export const OUTLIER_DEFAULTS: OutlierDetectionConfig = {
  consecutive5xx: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  enforcingConsecutive5xx: 100,
  enforcingSuccessRate: 100,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailure: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailure: 5,
  enforcingConsecutiveLocalOriginFailure: 100,
  enforcingLocalOriginSuccessRate: 100,
  failurePercentageThreshold: 85,
  enforcingFailurePercentage: 0,
  enforcingFailurePercentageLocalOrigin: 0,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
  maxEjectionTimeMs: 300_000,
  maxEjectionTimeJitterMs: 0,
  successfulActiveHealthCheckUnejectHost: true,
  alwaysEjectOneHost: false,
};

/** Decodes `o`; undefined when the cluster has no outlier detection. */
export function decodeOutlierDetection(
  o: OutlierDetection | undefined,
  path: string,
  errors: Errors,
): OutlierDetectionConfig | undefined {
  if (o === undefined) return undefined;
  const d = OUTLIER_DEFAULTS;
  const pct = (v: number | undefined, field: string, dflt: number): number => boundedUint(v, at(path, field), errors, dflt, 0, 100);
  const count = (v: number | undefined, field: string, dflt: number): number => boundedUint(v, at(path, field), errors, dflt, 0);
  const positive = (ms: number, field: string): void => {
    if (!(ms > 0)) errors.add(at(path, field), "must be greater than 0");
  };
  const intervalMs = durationMs(o.interval, d.intervalMs);
  positive(intervalMs, "interval");
  const baseEjectionTimeMs = durationMs(o.baseEjectionTime, d.baseEjectionTimeMs);
  positive(baseEjectionTimeMs, "base_ejection_time");
  const maxEjectionTimeMs = durationMs(o.maxEjectionTime, Math.max(d.maxEjectionTimeMs, baseEjectionTimeMs));
  if (o.maxEjectionTime !== undefined && maxEjectionTimeMs < baseEjectionTimeMs) {
    errors.add(at(path, "max_ejection_time"), `${maxEjectionTimeMs}ms must not be less than base_ejection_time (${baseEjectionTimeMs}ms)`);
  }
  const maxEjectionTimeJitterMs = durationMs(o.maxEjectionTimeJitter, d.maxEjectionTimeJitterMs);
  if (maxEjectionTimeJitterMs < 0) errors.add(at(path, "max_ejection_time_jitter"), "must not be negative");
  return {
    consecutive5xx: count(o.consecutive5xx, "consecutive_5xx", d.consecutive5xx),
    intervalMs,
    baseEjectionTimeMs,
    maxEjectionPercent: pct(o.maxEjectionPercent, "max_ejection_percent", d.maxEjectionPercent),
    enforcingConsecutive5xx: pct(o.enforcingConsecutive5xx, "enforcing_consecutive_5xx", d.enforcingConsecutive5xx),
    enforcingSuccessRate: pct(o.enforcingSuccessRate, "enforcing_success_rate", d.enforcingSuccessRate),
    successRateMinimumHosts: count(o.successRateMinimumHosts, "success_rate_minimum_hosts", d.successRateMinimumHosts),
    successRateRequestVolume: count(o.successRateRequestVolume, "success_rate_request_volume", d.successRateRequestVolume),
    successRateStdevFactor: count(o.successRateStdevFactor, "success_rate_stdev_factor", d.successRateStdevFactor),
    consecutiveGatewayFailure: count(o.consecutiveGatewayFailure, "consecutive_gateway_failure", d.consecutiveGatewayFailure),
    enforcingConsecutiveGatewayFailure: pct(
      o.enforcingConsecutiveGatewayFailure,
      "enforcing_consecutive_gateway_failure",
      d.enforcingConsecutiveGatewayFailure,
    ),
    splitExternalLocalOriginErrors: o.splitExternalLocalOriginErrors,
    consecutiveLocalOriginFailure: count(
      o.consecutiveLocalOriginFailure,
      "consecutive_local_origin_failure",
      d.consecutiveLocalOriginFailure,
    ),
    enforcingConsecutiveLocalOriginFailure: pct(
      o.enforcingConsecutiveLocalOriginFailure,
      "enforcing_consecutive_local_origin_failure",
      d.enforcingConsecutiveLocalOriginFailure,
    ),
    enforcingLocalOriginSuccessRate: pct(
      o.enforcingLocalOriginSuccessRate,
      "enforcing_local_origin_success_rate",
      d.enforcingLocalOriginSuccessRate,
    ),
    failurePercentageThreshold: pct(o.failurePercentageThreshold, "failure_percentage_threshold", d.failurePercentageThreshold),
    enforcingFailurePercentage: pct(o.enforcingFailurePercentage, "enforcing_failure_percentage", d.enforcingFailurePercentage),
    enforcingFailurePercentageLocalOrigin: pct(
      o.enforcingFailurePercentageLocalOrigin,
      "enforcing_failure_percentage_local_origin",
      d.enforcingFailurePercentageLocalOrigin,
    ),
    failurePercentageMinimumHosts: count(
      o.failurePercentageMinimumHosts,
      "failure_percentage_minimum_hosts",
      d.failurePercentageMinimumHosts,
    ),
    failurePercentageRequestVolume: count(
      o.failurePercentageRequestVolume,
      "failure_percentage_request_volume",
      d.failurePercentageRequestVolume,
    ),
    maxEjectionTimeMs,
    maxEjectionTimeJitterMs,
    successfulActiveHealthCheckUnejectHost: o.successfulActiveHealthCheckUnejectHost ?? d.successfulActiveHealthCheckUnejectHost,
    alwaysEjectOneHost: o.alwaysEjectOneHost ?? d.alwaysEjectOneHost,
  };
}
