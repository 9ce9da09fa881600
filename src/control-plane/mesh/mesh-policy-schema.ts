/**
 * mesh.yaml's `policies` (authorization) and `rateLimit` keys as zod schemas, kept apart from
 * mesh-schema.ts so that file only gains the keys that attach them.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { intIn, resourceName, show } from "./mesh-primitives.js";

/** `address/len`, IPv4 or IPv6; a bare address means /32 or /128. */
export const cidr = z.string().check((ctx) => {
  const v = ctx.value;
  const [address, len, extra] = v.split("/");
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (family === 0 || extra !== undefined || !(bits >= 0 && bits <= max)) {
    ctx.issues.push({ code: "custom", input: v, message: `${show(v)} is not a CIDR range (e.g. 10.0.0.0/8, fd00::/8, 192.168.1.7)` });
  }
});

/** A string matching `re`, with an error saying what was expected. */
function shaped(re: RegExp, expected: string): z.ZodString {
  return z.string().check((ctx) => {
    if (!re.test(ctx.value)) ctx.issues.push({ code: "custom", input: ctx.value, message: `${show(ctx.value)} is not ${expected}` });
  });
}

/** Method names as HTTP writes them. */
const httpMethod = shaped(/^[A-Z]+$/, "an HTTP method in capitals (GET, POST, ...)");

/** `package.Service/Method` or `package.Service/*`. */
const grpcMethod = shaped(/^[A-Za-z_][A-Za-z0-9_.]*\/(?:[A-Za-z_][A-Za-z0-9_]*|\*)$/, 'a gRPC method ("package.Service/Method" or "package.Service/*")');

/** One authorization rule: every condition given must hold; a list holds when any entry does. */
export const authorizationRuleSchema = <H extends z.ZodType>(headerMatch: H) =>
  z.strictObject({
    /** Peer identities (URI SAN, e.g. spiffe://...); a trailing `*` matches a prefix. Needs an mTLS listener. */
    principals: z.array(z.string().min(1)).min(1).optional(),
    /** Peer addresses. */
    sources: z.array(cidr).min(1).optional(),
    methods: z.array(httpMethod).min(1).optional(),
    /** Request paths (query excluded); a trailing `*` matches a prefix. */
    paths: z.array(z.string().startsWith("/")).min(1).optional(),
    grpcMethods: z.array(grpcMethod).min(1).optional(),
    /** All must match. */
    headers: z.array(headerMatch).min(1).optional(),
  });

export const policySchemaOf = <H extends z.ZodType>(headerMatch: H) =>
  z.strictObject({
    name: resourceName,
    /** Listeners whose requests the policy governs. */
    listeners: z.array(resourceName).min(1).optional(),
    /** Routes whose requests the policy governs (on every listener serving them). */
    routes: z.array(resourceName).min(1).optional(),
    /** allow (default): only requests matching a rule pass; deny: requests matching a rule are refused. */
    action: z.enum(["allow", "deny"]).optional(),
    /** With `allow`, no rules means deny everything (default deny). */
    rules: z.array(authorizationRuleSchema(headerMatch)).optional(),
  });

/** A token bucket per sidecar: `requestsPerSecond` sustained, `burst` at once (default: one second's worth). */
export const rateLimitSchema = z.strictObject({
  requestsPerSecond: intIn(1, 1_000_000),
  burst: intIn(1, 100_000_000).optional(),
});
