/**
 * Regex and header matchers. Envoy uses RE2; we compile with JS RegExp, so RE2 patterns that JS reads
 * differently or that need backtracking features RE2 lacks (lookaround, backreferences) are rejected
 * here rather than behaving subtly differently at request time.
 */
import type { HeaderMatcher } from "../../gen/envoy/config/route/v3/route_components.js";
import type { RegexMatcher } from "../../gen/envoy/type/matcher/v3/regex.js";
import type { HeaderMatcherConfig } from "../model.js";
import { headerName } from "./common.js";
import { at, type Errors, notSupported, show } from "./field-errors.js";

/** Constructs RE2 has and JS lacks, or JS has and RE2 lacks. */
const NOT_PORTABLE: readonly [RegExp, string][] = [
  [/\(\?[=!]|\(\?<[=!]/, "lookaround is not RE2 syntax"],
  [/\\[1-9]/, "backreferences are not RE2 syntax"],
  [/\(\?P<|\\[pP]\{?\^|\\[CQEz]|\[\[:/, "this RE2 construct is not supported by pilotfish's regex engine"],
];

/** Checks an RE2 regex compiles in our engine; returns its source. */
export function compileRegex(m: RegexMatcher | undefined, path: string, errors: Errors): string {
  if (m === undefined) {
    errors.add(at(path, "regex"), "required");
    return "";
  }
  if (m.engineType?.value.maxProgramSize !== undefined) {
    errors.add(at(path, "google_re2.max_program_size"), notSupported());
  }
  checkRegexSource(m.regex, at(path, "regex"), errors);
  return m.regex;
}

export function checkRegexSource(source: string, path: string, errors: Errors): void {
  if (source === "") {
    errors.add(path, "required");
    return;
  }
  for (const [re, why] of NOT_PORTABLE) {
    if (re.test(source)) {
      errors.add(path, `regex ${show(source)}: ${why}`);
      return;
    }
  }
  try {
    new RegExp(source, "u");
  } catch (err) {
    errors.add(path, `invalid regex ${show(source)}: ${(err as Error).message}`);
  }
}

/** HeaderMatcher → model; with no specifier Envoy matches on presence. */
export function decodeHeaderMatcher(h: HeaderMatcher, path: string, errors: Errors): HeaderMatcherConfig {
  const name = headerName(h.name, at(path, "name"), errors);
  const base = { name, invert: h.invertMatch, present: true, value: "" };
  const spec = h.headerMatchSpecifier;
  switch (spec?.$case) {
    case undefined:
      return { ...base, kind: "present" };
    case "presentMatch":
      return { ...base, kind: "present", present: spec.value };
    case "exactMatch":
      return { ...base, kind: "exact", value: spec.value };
    case "prefixMatch":
      return { ...base, kind: "prefix", value: nonEmpty(spec.value, at(path, "prefix_match"), errors) };
    case "suffixMatch":
      return { ...base, kind: "suffix", value: nonEmpty(spec.value, at(path, "suffix_match"), errors) };
    case "containsMatch":
      return { ...base, kind: "contains", value: nonEmpty(spec.value, at(path, "contains_match"), errors) };
    case "safeRegexMatch":
      return { ...base, kind: "regex", value: compileRegex(spec.value, at(path, "safe_regex_match"), errors) };
    case "stringMatch": {
      const p = at(path, "string_match");
      const sm = spec.value;
      if (sm.ignoreCase) errors.add(at(p, "ignore_case"), notSupported());
      const mp = sm.matchPattern;
      switch (mp?.$case) {
        case undefined:
          errors.add(p, "one of exact, prefix, suffix, contains, safe_regex is required");
          return { ...base, kind: "exact" };
        case "safeRegex":
          return { ...base, kind: "regex", value: compileRegex(mp.value, at(p, "safe_regex"), errors) };
        case "exact":
          return { ...base, kind: "exact", value: mp.value };
        case "prefix":
        case "suffix":
        case "contains":
          return { ...base, kind: mp.$case, value: nonEmpty(mp.value, at(p, mp.$case), errors) };
      }
    }
  }
}

/** Envoy rejects empty prefix/suffix/contains patterns (min_len 1). */
function nonEmpty(value: string, path: string, errors: Errors): string {
  if (value === "") errors.add(path, "must not be empty");
  return value;
}
