/**
 * The RBAC HTTP filter (envoy.filters.http.rbac): shadow rules are evaluated and counted only;
 * enforced rules deny with 403 "RBAC: access denied" (gRPC: PERMISSION_DENIED, trailers-only) and
 * the response flag RBAC. A route's or virtual host's RBACPerRoute replaces the listener's rules;
 * one without `rbac` turns the filter off there. Stats: `http.<stat_prefix>.rbac.allowed|denied|
 * shadow_allowed|shadow_denied`, as Envoy names them.
 */
import { ErrorCode, PilotfishError } from "../../common/errors.js";
import type { RbacFilterConfig } from "../../config/policy-model.js";
import { Grpc, ResponseFlag } from "../../listener/response-flags.js";
import type { MatchedRoute } from "../../router/route-table.js";
import type { Counter, StatsStore } from "../../stats/stats-store.js";
import { perRouteConfig, type FilterRequest, type HttpFilter, type LocalReply } from "../http-filter.js";
import { RbacEngine } from "./rbac-engine.js";

/** Envoy's body and grpc-message for a denied request. */
export const RBAC_DENIED_MESSAGE = "RBAC: access denied";

const DENIED: LocalReply = Object.freeze({
  httpStatus: 403,
  grpcStatus: Grpc.PERMISSION_DENIED,
  flag: ResponseFlag.RBAC,
  message: RBAC_DENIED_MESSAGE,
});

/** Compiled rules and shadow rules of one RbacFilterConfig. */
interface CompiledRbac {
  readonly rules: RbacEngine | undefined;
  readonly shadow: RbacEngine | undefined;
}

/** Per-route configs compile on first use and live as long as their route table. */
const compiledOverrides = new WeakMap<RbacFilterConfig, CompiledRbac>();

function compile(config: RbacFilterConfig): CompiledRbac {
  return {
    rules: config.rules && new RbacEngine(config.rules, "rules."),
    shadow: config.shadowRules && new RbacEngine(config.shadowRules, "shadow_rules."),
  };
}

export class RbacFilter implements HttpFilter {
  private readonly compiled: CompiledRbac;
  private readonly allowed: Counter;
  private readonly denied: Counter;
  private readonly shadowAllowed: Counter;
  private readonly shadowDenied: Counter;

  /** Throws PilotfishError CONFIG_INVALID when a rule does not compile. */
  constructor(
    readonly name: string,
    config: RbacFilterConfig,
    store: StatsStore,
    statPrefix: string,
  ) {
    this.compiled = compile(config);
    const errors = [...(this.compiled.rules?.errors ?? []), ...(this.compiled.shadow?.errors ?? [])];
    if (errors.length > 0) {
      throw new PilotfishError(
        ErrorCode.CONFIG_INVALID,
        `RBAC filter "${name}" is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
        errors,
      );
    }
    const p = `http.${statPrefix}.rbac.`;
    this.allowed = store.counter(p + "allowed");
    this.denied = store.counter(p + "denied");
    this.shadowAllowed = store.counter(p + "shadow_allowed");
    this.shadowDenied = store.counter(p + "shadow_denied");
  }

  onRequest(req: FilterRequest, route: MatchedRoute | undefined): LocalReply | undefined {
    let c = this.compiled;
    const override = perRouteConfig(route, this.name);
    if (override?.kind === "rbac") {
      if (override.rbac === undefined) return undefined;
      let hit = compiledOverrides.get(override.rbac);
      if (hit === undefined) {
        hit = compile(override.rbac);
        compiledOverrides.set(override.rbac, hit);
      }
      c = hit;
    }
    if (c.shadow !== undefined) {
      if (c.shadow.allows(req)) this.shadowAllowed.inc();
      else this.shadowDenied.inc();
    }
    if (c.rules === undefined) return undefined;
    if (c.rules.allows(req)) {
      this.allowed.inc();
      return undefined;
    }
    this.denied.inc();
    return DENIED;
  }
}
