/**
 * The compiled route table: built once from a RouteConfig when a configuration arrives, immutable
 * afterwards, and swapped whole by the listener when a new one arrives (so a request in flight keeps
 * the table it started with).
 *
 * Everything a request needs from its route is decided here rather than per request: the effective
 * retry policy, the header operations of all three levels in order, the cluster picker and the
 * rewrite. `match()` returns the precompiled route object itself, so a match allocates nothing
 * except in the rare cases documented on DomainIndex.lookup and CompiledRouteMatch.matches.
 *
 * A RouteConfig that cannot be compiled (bad regex, duplicate or malformed domain, no cluster) throws
 * a PilotfishError listing every problem with its Envoy field path, ready for a NACK.
 */
import type { Random } from "../common/clock.js";
import { ErrorCode, PilotfishError, type FieldError } from "../common/errors.js";
import type {
  DirectResponseAction,
  RetryPolicyConfig,
  RouteAction,
  RouteConfig,
  RouteEntryConfig,
  VirtualHostConfig,
} from "../config/model.js";
import { DomainIndex } from "./domain-index.js";
import { compileHeaderMutations, type CompiledHeaderMutations } from "./header-mutation.js";
import { CompiledRouteMatch, pathEnd, type RequestHeaders } from "./route-match.js";
import { WeightedClusterPicker } from "./weighted-cluster-picker.js";

export type { RequestHeaders } from "./route-match.js";

/** A compiled virtual host. */
export interface CompiledVirtualHost {
  /** Virtual host name. */
  readonly name: string;
  /** The configuration it was compiled from. */
  readonly config: VirtualHostConfig;
  /** Routes in match order. */
  readonly routes: readonly MatchedRoute[];
}

/** A compiled route, as returned by RouteTable.match (the same object for every match). */
export interface MatchedRoute {
  /** Route name (may be empty). */
  readonly name: string;
  /** The virtual host the route belongs to. */
  readonly virtualHost: CompiledVirtualHost;
  /** The configuration it was compiled from. */
  readonly config: RouteEntryConfig;
  /** What to do with the request. */
  readonly action: RouteAction | DirectResponseAction;
  /** The route's own retry policy, else its virtual host's; undefined means never retry. */
  readonly retryPolicy: RetryPolicyConfig | undefined;
  /** Route configuration, virtual host and route mutations, in application order. */
  readonly headerMutations: CompiledHeaderMutations;
  /** Chooses the upstream cluster; "" for direct responses. */
  pickCluster(random: Random): string;
  /**
   * The `:path` to send upstream: with `prefix_rewrite`, the matched part (the prefix for prefix
   * routes, the whole path before the query for path and regex routes, as in Envoy) is replaced and
   * the query string kept. Returns `path` itself when the route has no rewrite.
   */
  rewritePath(path: string): string;
}

class CompiledVirtualHostImpl implements CompiledVirtualHost {
  readonly name: string;
  readonly config: VirtualHostConfig;
  readonly routes: readonly CompiledRoute[];
  /** Whether any route is a regex route (then match() needs the path without its query). */
  readonly hasRegexRoutes: boolean;

  constructor(routeConfig: RouteConfig, config: VirtualHostConfig, fieldPath: string, errors: FieldError[]) {
    this.name = config.name;
    this.config = config;
    this.routes = Object.freeze(
      config.routes.map((r, i) => new CompiledRoute(routeConfig, this, r, `${fieldPath}.routes[${i}]`, errors)),
    );
    this.hasRegexRoutes = this.routes.some((r) => r.match.usesRegex);
    Object.freeze(this);
  }
}

class CompiledRoute implements MatchedRoute {
  readonly name: string;
  readonly virtualHost: CompiledVirtualHost;
  readonly config: RouteEntryConfig;
  readonly action: RouteAction | DirectResponseAction;
  readonly retryPolicy: RetryPolicyConfig | undefined;
  readonly headerMutations: CompiledHeaderMutations;
  /** The compiled match. */
  readonly match: CompiledRouteMatch;
  /** Cluster choice; undefined for direct responses. */
  private readonly picker: WeightedClusterPicker | undefined;
  /** `prefix_rewrite`, undefined when the route does not rewrite. */
  private readonly prefixRewrite: string | undefined;

  constructor(
    routeConfig: RouteConfig,
    vhost: CompiledVirtualHostImpl,
    config: RouteEntryConfig,
    fieldPath: string,
    errors: FieldError[],
  ) {
    this.name = config.name;
    this.virtualHost = vhost;
    this.config = config;
    this.action = config.action;
    this.match = new CompiledRouteMatch(config.match, `${fieldPath}.match`, errors);
    this.headerMutations = compileHeaderMutations([routeConfig.headers, vhost.config.headers, config.headers]);
    if (config.action.kind === "route") {
      // Envoy: a route's retry_policy replaces the virtual host's whole, fields are not merged.
      this.retryPolicy = config.action.retryPolicy ?? vhost.config.retryPolicy;
      this.picker = new WeightedClusterPicker(config.action.clusters, `${fieldPath}.route.weighted_clusters`, errors);
      this.prefixRewrite = config.action.prefixRewrite;
    } else {
      // Direct responses are answered locally: nothing to retry, pick or rewrite.
      this.retryPolicy = undefined;
      this.picker = undefined;
      this.prefixRewrite = undefined;
    }
    Object.freeze(this);
  }

  pickCluster(random: Random): string {
    return this.picker === undefined ? "" : this.picker.pick(random);
  }

  rewritePath(path: string): string {
    const rewrite = this.prefixRewrite;
    if (rewrite === undefined) return path;
    const end = pathEnd(path);
    return rewrite + path.slice(this.match.matchedLength(end));
  }
}

/** The compiled, immutable form of a RouteConfig. */
export class RouteTable {
  /** Route configuration name. */
  readonly name: string;
  /** The configuration it was compiled from (for config_dump). */
  readonly config: RouteConfig;
  /** Virtual hosts in config order. */
  readonly virtualHosts: readonly CompiledVirtualHost[];
  /** Virtual host selection by authority. */
  private readonly domains: DomainIndex<CompiledVirtualHostImpl>;

  /** Compiles; throws PilotfishError CONFIG_INVALID listing every problem. */
  constructor(config: RouteConfig) {
    const errors: FieldError[] = [];
    const domains = new DomainIndex<CompiledVirtualHostImpl>();
    const vhosts = config.virtualHosts.map((vh, i) => {
      const fieldPath = `virtual_hosts[${i}]`;
      const compiled = new CompiledVirtualHostImpl(config, vh, fieldPath, errors);
      vh.domains.forEach((domain, j) => {
        const problem = domains.add(domain, compiled);
        if (problem !== undefined) {
          errors.push({ path: `${fieldPath}.domains[${j}]`, message: domainMessage(domain, problem) });
        }
      });
      return compiled;
    });
    if (errors.length > 0) {
      throw new PilotfishError(
        ErrorCode.CONFIG_INVALID,
        `route configuration "${config.name}" is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
        errors,
      );
    }
    this.name = config.name;
    this.config = config;
    this.virtualHosts = Object.freeze(vhosts);
    this.domains = domains.seal();
    Object.freeze(this);
  }

  /** The virtual host for an authority, or undefined (Envoy answers 404 then). */
  virtualHostFor(authority: string): CompiledVirtualHost | undefined {
    return this.domains.lookup(authority);
  }

  /**
   * The first route of the selected virtual host that matches, or undefined (404).
   * @param authority `:authority` (or `host` for HTTP/1.1), any case, port optional
   * @param path `:path`, query string included
   * @param headers the request headers, for header and gRPC matchers
   */
  match(authority: string, path: string, headers: RequestHeaders): MatchedRoute | undefined {
    const vhost = this.domains.lookup(authority);
    if (vhost === undefined) return undefined;
    const end = pathEnd(path);
    // Only regex routes need the path without its query as its own string; slice once, and only then.
    const bare = vhost.hasRegexRoutes && end !== path.length ? path.slice(0, end) : path;
    const routes = vhost.routes;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i];
      if (route.match.matches(path, end, bare, headers)) return route;
    }
    return undefined;
  }
}

function domainMessage(domain: string, problem: "empty" | "bad-wildcard" | "duplicate"): string {
  switch (problem) {
    case "empty":
      return "a domain must not be empty";
    case "bad-wildcard":
      return `"${domain}": a wildcard must be "*" alone or one "*" at the start or end`;
    case "duplicate":
      return `"${domain}" appears more than once in this route configuration (domains must be unique)`;
  }
}
