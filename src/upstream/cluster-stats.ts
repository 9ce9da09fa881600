/** Envoy-named counters of one cluster, resolved once so the request path only bumps numbers. */
import type { Counter, Gauge, Histogram, StatsStore } from "../stats/stats-store.js";

/** `cluster.<name>.*` stats. */
export interface ClusterStats {
  rqTotal: Counter;
  /** `upstream_rq_time`: ms from an attempt's start to its response's end (attempts that got a response). */
  rqTime: Histogram;
  rq2xx: Counter;
  rq3xx: Counter;
  rq4xx: Counter;
  rq5xx: Counter;
  rqActive: Gauge;
  rqTimeout: Counter;
  rqPerTryTimeout: Counter;
  rqRetry: Counter;
  rqRetrySuccess: Counter;
  rqRetryLimitExceeded: Counter;
  rqPendingOverflow: Counter;
  rqRxReset: Counter;
  rqTxReset: Counter;
  rqMaxDurationReached: Counter;
  cxTotal: Counter;
  cxActive: Gauge;
  cxConnectFail: Counter;
  cxConnectTimeout: Counter;
  noHealthyHost: Counter;
  membershipTotal: Gauge;
  membershipHealthy: Gauge;
}

/** Registers (or finds) the stats of cluster `name`. */
export function clusterStats(store: StatsStore, name: string): ClusterStats {
  const p = `cluster.${name}.`;
  const c = (s: string): Counter => store.counter(p + s);
  const g = (s: string): Gauge => store.gauge(p + s);
  return {
    rqTotal: c("upstream_rq_total"),
    rqTime: store.histogram(p + "upstream_rq_time"),
    rq2xx: c("upstream_rq_2xx"),
    rq3xx: c("upstream_rq_3xx"),
    rq4xx: c("upstream_rq_4xx"),
    rq5xx: c("upstream_rq_5xx"),
    rqActive: g("upstream_rq_active"),
    rqTimeout: c("upstream_rq_timeout"),
    rqPerTryTimeout: c("upstream_rq_per_try_timeout"),
    rqRetry: c("upstream_rq_retry"),
    rqRetrySuccess: c("upstream_rq_retry_success"),
    rqRetryLimitExceeded: c("upstream_rq_retry_limit_exceeded"),
    rqPendingOverflow: c("upstream_rq_pending_overflow"),
    rqRxReset: c("upstream_rq_rx_reset"),
    rqTxReset: c("upstream_rq_tx_reset"),
    rqMaxDurationReached: c("upstream_rq_max_duration_reached"),
    cxTotal: c("upstream_cx_total"),
    cxActive: g("upstream_cx_active"),
    cxConnectFail: c("upstream_cx_connect_fail"),
    cxConnectTimeout: c("upstream_cx_connect_timeout"),
    noHealthyHost: c("upstream_cx_none_healthy"),
    membershipTotal: g("membership_total"),
    membershipHealthy: g("membership_healthy"),
  };
}

/** Bumps the response-class counter for an HTTP status. */
export function countStatusClass(stats: ClusterStats, status: number): void {
  if (status < 300) stats.rq2xx.inc();
  else if (status < 400) stats.rq3xx.inc();
  else if (status < 500) stats.rq4xx.inc();
  else stats.rq5xx.inc();
}
