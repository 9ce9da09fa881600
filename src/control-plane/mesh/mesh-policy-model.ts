/** The model of mesh.yaml's `policies` and `rateLimit` (see mesh-model.ts for the rest). */
import type { MeshHeaderMatch } from "./mesh-model.js";

/** A parsed CIDR range. */
export interface MeshCidr {
  readonly address: string;
  readonly prefixLen: number;
}

/** A string condition: exact, or a prefix when written with a trailing `*`. */
export interface MeshStringMatch {
  readonly kind: "exact" | "prefix";
  readonly value: string;
}

/** One authorization rule; empty lists mean "no condition". */
export interface MeshAuthorizationRule {
  readonly principals: readonly MeshStringMatch[];
  readonly sources: readonly MeshCidr[];
  readonly methods: readonly string[];
  /** Paths, gRPC methods included (as `/package.Service/Method` or the `/package.Service/` prefix). */
  readonly paths: readonly MeshStringMatch[];
  readonly headers: readonly MeshHeaderMatch[];
}

/** An authorization policy. */
export interface MeshPolicy {
  readonly name: string;
  readonly listeners: readonly string[];
  readonly routes: readonly string[];
  readonly action: "allow" | "deny";
  readonly rules: readonly MeshAuthorizationRule[];
}

/** A local token bucket. */
export interface MeshRateLimit {
  readonly requestsPerSecond: number;
  /** Bucket size. */
  readonly burst: number;
}
