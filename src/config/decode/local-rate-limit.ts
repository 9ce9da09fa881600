/**
 * envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit decoding, for the filter and for its
 * `typed_per_filter_config` override (same message). Envoy's defaults are kept on purpose, including
 * the surprising one: with `filter_enabled` / `filter_enforced` unset the filter looks at 0% of
 * requests, so a config that only sets a token bucket limits nothing.
 */
import type { RuntimeFractionalPercent } from "../../gen/envoy/config/core/v3/base.js";
import type { LocalRateLimit } from "../../gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js";
import { FractionalPercent_DenominatorType as Denominator } from "../../gen/envoy/type/v3/percent.js";
import type { FractionConfig, LocalRateLimitConfig, TokenBucketConfig } from "../policy-model.js";
import { durationMs } from "./common.js";
import { at, type Errors, notSupported, show } from "./field-errors.js";

/** Envoy refuses fill intervals shorter than this. */
export const MIN_FILL_INTERVAL_MS = 50;
/** Envoy's `status` default. */
export const DEFAULT_RATE_LIMITED_STATUS = 429;

const OFF: FractionConfig = { numerator: 0, denominator: 100 };

export function decodeLocalRateLimit(l: LocalRateLimit, path: string, errors: Errors): LocalRateLimitConfig {
  if (l.statPrefix === "") errors.add(at(path, "stat_prefix"), "required");
  if (l.stage !== 0) errors.add(at(path, "stage"), notSupported());
  if (l.localRateLimitPerDownstreamConnection) errors.add(at(path, "local_rate_limit_per_downstream_connection"), notSupported());
  if (l.responseHeadersToAdd.length > 0) errors.add(at(path, "response_headers_to_add"), notSupported());
  // Envoy: a status below 400 (or none) means 429.
  const code: number = l.status?.code ?? 0;
  return {
    statPrefix: l.statPrefix,
    tokenBucket: l.tokenBucket && decodeTokenBucket(l.tokenBucket, at(path, "token_bucket"), errors),
    filterEnabled: fraction(l.filterEnabled, at(path, "filter_enabled"), errors),
    filterEnforced: fraction(l.filterEnforced, at(path, "filter_enforced"), errors),
    status: code >= 400 && code <= 599 ? code : DEFAULT_RATE_LIMITED_STATUS,
    rateLimitedAsResourceExhausted: l.rateLimitedAsResourceExhausted,
  };
}

function decodeTokenBucket(
  b: NonNullable<LocalRateLimit["tokenBucket"]>,
  path: string,
  errors: Errors,
): TokenBucketConfig {
  if (b.maxTokens === 0) errors.add(at(path, "max_tokens"), "must be greater than 0");
  const tokensPerFill = b.tokensPerFill ?? 1;
  if (tokensPerFill === 0) errors.add(at(path, "tokens_per_fill"), "must be greater than 0");
  const fillIntervalMs = durationMs(b.fillInterval, 0);
  if (b.fillInterval === undefined) errors.add(at(path, "fill_interval"), "required");
  else if (fillIntervalMs < MIN_FILL_INTERVAL_MS) {
    errors.add(at(path, "fill_interval"), `${show(fillIntervalMs)} ms is shorter than the ${MIN_FILL_INTERVAL_MS} ms minimum`);
  }
  return { maxTokens: b.maxTokens, tokensPerFill, fillIntervalMs };
}

/** RuntimeFractionalPercent: only `default_value` (there is no runtime layer); unset is 0%. */
function fraction(r: RuntimeFractionalPercent | undefined, path: string, errors: Errors): FractionConfig {
  if (r === undefined) return OFF;
  if (r.runtimeKey !== "") errors.add(at(path, "runtime_key"), notSupported("runtime keys (pilotfish has no runtime layer)"));
  const v = r.defaultValue;
  if (v === undefined) return OFF;
  const denominator = v.denominator === Denominator.TEN_THOUSAND ? 10_000 : v.denominator === Denominator.MILLION ? 1_000_000 : 100;
  // Envoy clamps a numerator above the denominator to 100%.
  return { numerator: Math.min(v.numerator, denominator), denominator };
}
