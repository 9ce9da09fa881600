/**
 * A route's match (path, headers, gRPC), compiled once: regexes built, case-insensitive prefixes
 * lower-cased, kinds turned into small integers so that matching is a switch, not a chain of string
 * comparisons on config objects.
 *
 * Semantics follow Envoy's RouteMatch and HeaderUtility::matchHeaders:
 * - paths are compared without the query string and fragment;
 * - `safe_regex` must match the whole path (we anchor it);
 * - a multi-valued header is matched as its values joined with ",";
 * - a missing header fails every matcher except `present`, even an inverted one (an inverted
 *   `exact: x` does not match a request without the header: Envoy's rule, easy to get wrong).
 *
 * Regexes are JavaScript's, not RE2: the common RE2 syntax is the same, and a leading `(?i)` (RE2's
 * case-insensitive flag, which JavaScript lacks in that form) is turned into the `i` flag.
 */
import type { FieldError } from "../common/errors.js";
import type { HeaderMatcherConfig, RouteMatchConfig } from "../config/model.js";

/**
 * Request headers as node:http2 delivers them: lower-case names, pseudo-headers included, a value
 * array for repeated fields. `http2.IncomingHttpHeaders` is assignable to it.
 */
export interface RequestHeaders {
  readonly [name: string]: string | string[] | undefined;
}

const PATH_PREFIX = 0;
const PATH_EXACT = 1;
const PATH_REGEX = 2;

const H_EXACT = 0;
const H_PREFIX = 1;
const H_SUFFIX = 2;
const H_CONTAINS = 3;
const H_REGEX = 4;
const H_PRESENT = 5;

const HEADER_KINDS: Readonly<Record<HeaderMatcherConfig["kind"], number>> = {
  exact: H_EXACT,
  prefix: H_PREFIX,
  suffix: H_SUFFIX,
  contains: H_CONTAINS,
  regex: H_REGEX,
  present: H_PRESENT,
};

/** One compiled header matcher (routes and RBAC). */
export class CompiledHeaderMatcher {
  /** Lower-case header name. */
  readonly name: string;
  /** One of the H_* constants. */
  readonly kind: number;
  /** Value to compare (unused for regex and present). */
  readonly value: string;
  /** Anchored regex for `regex`, else undefined. */
  readonly regex: RegExp | undefined;
  /** For `present`: must the header be present (true) or absent (false). */
  readonly present: boolean;
  /** Invert the result (only when the header exists, or for `present`). */
  readonly invert: boolean;

  constructor(config: HeaderMatcherConfig, regex: RegExp | undefined) {
    this.name = config.name.toLowerCase();
    this.kind = HEADER_KINDS[config.kind];
    this.value = config.value;
    this.regex = regex;
    this.present = config.present;
    this.invert = config.invert;
    Object.freeze(this);
  }

  matches(headers: RequestHeaders): boolean {
    const raw = headers[this.name];
    // Absent: `present: false` matches, `present: true` does not, and invert flips that.
    if (raw === undefined) return this.kind === H_PRESENT && this.present === this.invert;
    const value = typeof raw === "string" ? raw : raw.join(",");
    let result: boolean;
    switch (this.kind) {
      case H_EXACT:
        result = value === this.value;
        break;
      case H_PREFIX:
        result = value.startsWith(this.value);
        break;
      case H_SUFFIX:
        result = value.endsWith(this.value);
        break;
      case H_CONTAINS:
        result = value.includes(this.value);
        break;
      case H_REGEX:
        result = this.regex!.test(value);
        break;
      default:
        result = this.present;
    }
    return result !== this.invert;
  }
}

/** A compiled RouteMatchConfig. */
export class CompiledRouteMatch {
  /** PATH_PREFIX, PATH_EXACT or PATH_REGEX. */
  readonly pathKind: number;
  /** Prefix or path to compare; ASCII-lower-cased when the match is case-insensitive. */
  readonly pathValue: string;
  /** Case sensitivity of prefix and path comparison (regexes carry their own). */
  readonly caseSensitive: boolean;
  /** Anchored regex for `safe_regex` routes. */
  readonly regex: RegExp | undefined;
  /** All must match. */
  readonly headers: readonly CompiledHeaderMatcher[];
  /** Require a gRPC content-type. */
  readonly grpcOnly: boolean;

  /** Compiles; problems (bad regexes) are pushed to `errors` under `fieldPath`. */
  constructor(config: RouteMatchConfig, fieldPath: string, errors: FieldError[]) {
    const path = config.path;
    this.caseSensitive = config.caseSensitive;
    if (path.kind === "regex") {
      this.pathKind = PATH_REGEX;
      this.pathValue = "";
      this.regex = compileFullMatch(path.regex, `${fieldPath}.safe_regex.regex`, errors);
    } else {
      this.pathKind = path.kind === "prefix" ? PATH_PREFIX : PATH_EXACT;
      this.pathValue = config.caseSensitive ? path.value : asciiLower(path.value);
      this.regex = undefined;
    }
    this.headers = Object.freeze(
      config.headers.map((h, i) => {
        const regex = h.kind === "regex" ? compileFullMatch(h.value, `${fieldPath}.headers[${i}].safe_regex_match.regex`, errors) : undefined;
        return new CompiledHeaderMatcher(h, regex);
      }),
    );
    this.grpcOnly = config.grpcOnly;
    Object.freeze(this);
  }

  /** Whether this is a `safe_regex` route, which needs the path without its query as a string. */
  get usesRegex(): boolean {
    return this.pathKind === PATH_REGEX;
  }

  /**
   * Whether the request matches.
   * @param path the full `:path`, query included
   * @param end index where the query or fragment starts (path.length when none)
   * @param bare `path.slice(0, end)` for regex routes; may be any string for the others
   */
  matches(path: string, end: number, bare: string, headers: RequestHeaders): boolean {
    const value = this.pathValue;
    switch (this.pathKind) {
      case PATH_PREFIX:
        if (value.length > end) return false;
        if (this.caseSensitive ? !path.startsWith(value) : !startsWithIgnoreAsciiCase(path, value)) return false;
        break;
      case PATH_EXACT:
        if (value.length !== end) return false;
        if (this.caseSensitive ? !path.startsWith(value) : !startsWithIgnoreAsciiCase(path, value)) return false;
        break;
      default:
        if (!this.regex!.test(bare)) return false;
    }
    if (this.grpcOnly && !isGrpcContentType(headers["content-type"])) return false;
    const matchers = this.headers;
    for (let i = 0; i < matchers.length; i++) {
      if (!matchers[i].matches(headers)) return false;
    }
    return true;
  }

  /** Length of the path part this route consumed, which `prefix_rewrite` replaces. */
  matchedLength(end: number): number {
    return this.pathKind === PATH_PREFIX ? this.pathValue.length : end;
  }
}

/** Index of the first `?` or `#` in a path, or its length: the part routes are matched on. */
export function pathEnd(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return i;
  }
  return path.length;
}

/**
 * Envoy's gRPC request test: `application/grpc` exactly or followed by `+` (`+proto`, `+json`) or `;`.
 * `application/grpc-web` is not gRPC to the router: it needs translation first.
 */
export function isGrpcContentType(contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== "string") return false;
  const n = GRPC_CONTENT_TYPE.length;
  if (!contentType.startsWith(GRPC_CONTENT_TYPE)) return false;
  if (contentType.length === n) return true;
  const next = contentType.charCodeAt(n);
  return next === 0x2b /* + */ || next === 0x3b /* ; */;
}

const GRPC_CONTENT_TYPE = "application/grpc";

/** Builds a regex that must match the whole input, or records why it cannot. */
export function compileFullMatch(source: string, fieldPath: string, errors: FieldError[]): RegExp | undefined {
  let body = source;
  let flags = "";
  if (body.startsWith("(?i)")) {
    body = body.slice(4);
    flags = "i";
  }
  try {
    return new RegExp(`^(?:${body})$`, flags);
  } catch (err) {
    errors.push({ path: fieldPath, message: `invalid regex ${JSON.stringify(source)}: ${(err as Error).message}` });
    return undefined;
  }
}

/** Lower-cases ASCII letters only, as Envoy's case-insensitive path matching does. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

/** `s.startsWith(lowerPrefix)` ignoring ASCII case in `s`; `lowerPrefix` is already lower-case. */
function startsWithIgnoreAsciiCase(s: string, lowerPrefix: string): boolean {
  const n = lowerPrefix.length;
  if (s.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}
