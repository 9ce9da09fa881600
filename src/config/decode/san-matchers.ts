/**
 * Subject alternative name matchers of a CertificateValidationContext: `match_typed_subject_alt_names`
 * (SAN type + StringMatcher) and the deprecated `match_subject_alt_names` (StringMatcher tried against
 * every SAN type), as Envoy reads them. Only the typed form is emitted by our control plane.
 */
import type { CertificateValidationContext } from "../../gen/envoy/extensions/transport_sockets/tls/v3/common.js";
import { SubjectAltNameMatcher_SanType as PbSanType } from "../../gen/envoy/extensions/transport_sockets/tls/v3/common.js";
import type { StringMatcher } from "../../gen/envoy/type/matcher/v3/string.js";
import type { SanMatcherConfig, SanType } from "../model.js";
import { at, type Errors, idx, unsupportedValue } from "./field-errors.js";
import { compileRegex } from "./matchers.js";

const SAN_TYPES: readonly SanType[] = ["URI", "DNS", "EMAIL", "IP_ADDRESS"];

/** Both matcher lists of a validation context, typed ones first; empty when neither is set. */
export function decodeSanMatchers(vc: CertificateValidationContext | undefined, path: string, errors: Errors): SanMatcherConfig[] {
  if (vc === undefined) return [];
  const out: SanMatcherConfig[] = [];
  vc.matchTypedSubjectAltNames.forEach((m, i) => {
    const p = idx(at(path, "match_typed_subject_alt_names"), i);
    const name = PbSanType[m.sanType] as string | undefined;
    if (name === undefined || !(SAN_TYPES as readonly string[]).includes(name)) {
      errors.add(at(p, "san_type"), unsupportedValue(name ?? m.sanType, SAN_TYPES));
      return;
    }
    const sm = decodeStringMatcher(m.matcher, at(p, "matcher"), errors);
    if (sm !== undefined) out.push({ sanType: name as SanType, ...sm });
  });
  vc.matchSubjectAltNames.forEach((m, i) => {
    const sm = decodeStringMatcher(m, idx(at(path, "match_subject_alt_names"), i), errors);
    if (sm !== undefined) out.push({ sanType: "ANY", ...sm });
  });
  return out;
}

function decodeStringMatcher(m: StringMatcher | undefined, path: string, errors: Errors): Omit<SanMatcherConfig, "sanType"> | undefined {
  const mp = m?.matchPattern;
  if (m === undefined || mp === undefined) {
    errors.add(path, "one of exact, prefix, suffix, contains, safe_regex is required");
    return undefined;
  }
  const ignoreCase = m.ignoreCase;
  switch (mp.$case) {
    case "exact":
      return { kind: "exact", value: mp.value, ignoreCase };
    case "safeRegex":
      return { kind: "regex", value: compileRegex(mp.value, at(path, "safe_regex"), errors), ignoreCase: false };
    case "prefix":
    case "suffix":
    case "contains":
      if (mp.value === "") errors.add(at(path, mp.$case), "must not be empty");
      return { kind: mp.$case, value: mp.value, ignoreCase };
  }
}
