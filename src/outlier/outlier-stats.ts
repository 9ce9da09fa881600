/** `cluster.<name>.outlier_detection.*`, Envoy's names, resolved once per cluster. */
import type { Counter, Gauge, StatsStore } from "../stats/stats-store.js";

/** Envoy's ejection types, as used in stat names. */
export type EjectionType =
  | "consecutive_5xx"
  | "consecutive_gateway_failure"
  | "consecutive_local_origin_failure"
  | "success_rate"
  | "local_origin_success_rate"
  | "failure_percentage"
  | "failure_percentage_local_origin";

export const EJECTION_TYPES: readonly EjectionType[] = [
  "consecutive_5xx",
  "consecutive_gateway_failure",
  "consecutive_local_origin_failure",
  "success_rate",
  "local_origin_success_rate",
  "failure_percentage",
  "failure_percentage_local_origin",
];

export interface OutlierStats {
  /** Hosts ejected right now. */
  readonly ejectionsActive: Gauge;
  /** Ejections enforced, every type. */
  readonly ejectionsEnforcedTotal: Counter;
  /** Ejections skipped because of max_ejection_percent. */
  readonly ejectionsOverflow: Counter;
  /** Deprecated in Envoy, kept for dashboards: detections of any type that passed the percentage check. */
  readonly ejectionsTotal: Counter;
  readonly detected: Readonly<Record<EjectionType, Counter>>;
  readonly enforced: Readonly<Record<EjectionType, Counter>>;
}

export function outlierStats(store: StatsStore, cluster: string): OutlierStats {
  const p = `cluster.${cluster}.outlier_detection.`;
  const detected = {} as Record<EjectionType, Counter>;
  const enforced = {} as Record<EjectionType, Counter>;
  for (const t of EJECTION_TYPES) {
    detected[t] = store.counter(`${p}ejections_detected_${t}`);
    enforced[t] = store.counter(`${p}ejections_enforced_${t}`);
  }
  return {
    ejectionsActive: store.gauge(`${p}ejections_active`),
    ejectionsEnforcedTotal: store.counter(`${p}ejections_enforced_total`),
    ejectionsOverflow: store.counter(`${p}ejections_overflow`),
    ejectionsTotal: store.counter(`${p}ejections_total`),
    detected,
    enforced,
  };
}
