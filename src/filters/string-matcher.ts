/**
 * A compiled envoy.type.matcher.v3.StringMatcher: kind as a small integer, value lower-cased once
 * for `ignore_case`, regexes anchored (Envoy's safe_regex matches the whole string).
 */
import type { FieldError } from "../common/errors.js";
import type { StringMatcherConfig } from "../config/policy-model.js";
import { compileFullMatch } from "../router/route-match.js";

const EXACT = 0;
const PREFIX = 1;
const SUFFIX = 2;
const CONTAINS = 3;
const REGEX = 4;

const KINDS: Readonly<Record<StringMatcherConfig["kind"], number>> = {
  exact: EXACT,
  prefix: PREFIX,
  suffix: SUFFIX,
  contains: CONTAINS,
  regex: REGEX,
};

export class CompiledStringMatcher {
  private readonly kind: number;
  private readonly value: string;
  private readonly ignoreCase: boolean;
  private readonly regex: RegExp | undefined;

  /** Compiles; a regex that does not compile is pushed to `errors` under `fieldPath` (and never matches). */
  constructor(config: StringMatcherConfig, fieldPath: string, errors: FieldError[]) {
    this.kind = KINDS[config.kind];
    this.ignoreCase = config.ignoreCase;
    this.value = config.ignoreCase ? config.value.toLowerCase() : config.value;
    this.regex = config.kind === "regex" ? compileFullMatch(config.value, fieldPath, errors) : undefined;
    Object.freeze(this);
  }

  matches(input: string): boolean {
    const s = this.ignoreCase ? input.toLowerCase() : input;
    switch (this.kind) {
      case EXACT:
        return s === this.value;
      case PREFIX:
        return s.startsWith(this.value);
      case SUFFIX:
        return s.endsWith(this.value);
      case CONTAINS:
        return s.includes(this.value);
      default:
        return this.regex !== undefined && this.regex.test(s);
    }
  }
}
