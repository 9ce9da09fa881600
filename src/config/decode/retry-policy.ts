/** RetryPolicy decoding: `retry_on` conditions, counts, per-try timeout and backoff (Envoy defaults). */
import type { RetryPolicy } from "../../gen/envoy/config/route/v3/route_components.js";
import type { RetryOn, RetryPolicyConfig } from "../model.js";
import { durationMs } from "./common.js";
import { at, type Errors, idx, unsupportedValue } from "./field-errors.js";

export const RETRY_ON: readonly RetryOn[] = [
  "5xx",
  "gateway-error",
  "reset",
  "connect-failure",
  "refused-stream",
  "retriable-status-codes",
  "retriable-4xx",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
];

/** Envoy: retries default to 1, backoff base 25 ms, cap 10 × base. */
export const DEFAULT_NUM_RETRIES = 1;
export const DEFAULT_BACKOFF_BASE_MS = 25;

export function decodeRetryPolicy(r: RetryPolicy, path: string, errors: Errors): RetryPolicyConfig {
  const retryOn = new Set<RetryOn>();
  const conditions = r.retryOn
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const c of conditions) {
    if ((RETRY_ON as readonly string[]).includes(c)) retryOn.add(c as RetryOn);
    else errors.add(at(path, "retry_on"), unsupportedValue(c, RETRY_ON));
  }
  const retriableStatusCodes = new Set<number>();
  r.retriableStatusCodes.forEach((code, i) => {
    if (code < 100 || code > 599) errors.add(idx(at(path, "retriable_status_codes"), i), `status ${code} is outside 100..599`);
    else retriableStatusCodes.add(code);
  });
  let backoffBaseMs = DEFAULT_BACKOFF_BASE_MS;
  let backoffMaxMs = 10 * DEFAULT_BACKOFF_BASE_MS;
  if (r.retryBackOff !== undefined) {
    const p = at(path, "retry_back_off");
    if (r.retryBackOff.baseInterval === undefined) {
      errors.add(at(p, "base_interval"), "required");
    } else {
      backoffBaseMs = durationMs(r.retryBackOff.baseInterval, DEFAULT_BACKOFF_BASE_MS);
      if (backoffBaseMs < 1) errors.add(at(p, "base_interval"), "must be at least 1ms");
    }
    backoffMaxMs = durationMs(r.retryBackOff.maxInterval, 10 * backoffBaseMs);
    if (backoffMaxMs < backoffBaseMs) {
      errors.add(at(p, "max_interval"), `${backoffMaxMs}ms is less than base_interval (${backoffBaseMs}ms)`);
    }
  }
  return {
    retryOn,
    numRetries: r.numRetries ?? DEFAULT_NUM_RETRIES,
    perTryTimeoutMs: durationMs(r.perTryTimeout, 0),
    backoffBaseMs,
    backoffMaxMs,
    retriableStatusCodes,
  };
}
