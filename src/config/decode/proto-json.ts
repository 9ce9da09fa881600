/**
 * Strict proto3 JSON validation against the reflected proto/ schema.
 *
 * ts-proto's fromJSON ignores unknown fields and coerces wrong types, which would let a typo in a
 * bootstrap pass silently. This walk reports every unknown field, wrong type, bad enum value, bad
 * duration and unknown `@type`, and produces the canonical object protobufjs encodes to wire bytes;
 * the typed decoders then read those bytes with the generated code, exactly as they read xDS resources.
 */
import protobuf from "protobufjs";
import { at, type Errors, idx, show } from "./field-errors.js";
import { jsonName, lookupMessage, TYPE_URL_PREFIX } from "./proto-schema.js";

type Json = unknown;
type Canonical = Record<string, unknown>;

const DURATION = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000;
const INT_TEXT = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

const WRAPPERS = new Set([
  ".google.protobuf.DoubleValue",
  ".google.protobuf.FloatValue",
  ".google.protobuf.Int64Value",
  ".google.protobuf.UInt64Value",
  ".google.protobuf.Int32Value",
  ".google.protobuf.UInt32Value",
  ".google.protobuf.BoolValue",
  ".google.protobuf.StringValue",
  ".google.protobuf.BytesValue",
]);

const INT_RANGES: Record<string, readonly [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sint64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sfixed64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  fixed64: [0, Number.MAX_SAFE_INTEGER],
};

function isPlainObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Field lookup by proto name and by JSON name, cached per type. */
const fieldIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();
function fieldsOf(type: protobuf.Type): Map<string, protobuf.Field> {
  let map = fieldIndex.get(type);
  if (!map) {
    map = new Map();
    for (const f of type.fieldsArray) {
      map.set(f.name, f);
      map.set(jsonName(f.name), f);
    }
    fieldIndex.set(type, map);
  }
  return map;
}

/** Validates `value` as proto3 JSON of `type`; returns the canonical object, or undefined on error. */
export function walkMessage(type: protobuf.Type, value: Json, path: string, errors: Errors): Canonical | undefined {
  const wkt = walkWellKnown(type, value, path, errors);
  if (wkt !== null) return wkt;
  if (!isPlainObject(value)) {
    errors.add(path, `expected an object (${type.name}), got ${show(value)}`);
    return undefined;
  }
  const out: Canonical = {};
  const oneofSeen = new Map<string, string>();
  const fields = fieldsOf(type);
  for (const [key, v] of Object.entries(value)) {
    const p = at(path, key);
    const field = fields.get(key);
    if (!field) {
      errors.add(p, `unknown field "${key}" (not in ${type.fullName.slice(1)} as supported by pilotfish)`);
      continue;
    }
    if (v === null) continue; // proto3 JSON: null means "use the default".
    if (field.name in out) {
      errors.add(p, `field "${field.name}" is given twice (as snake_case and lowerCamelCase)`);
      continue;
    }
    if (field.partOf) {
      const other = oneofSeen.get(field.partOf.name);
      if (other !== undefined) {
        errors.add(p, `only one of ${field.partOf.oneof.join(", ")} may be set; "${other}" is set too`);
        continue;
      }
      oneofSeen.set(field.partOf.name, field.name);
    }
    const converted = walkField(field, v, p, errors);
    if (converted !== undefined) out[field.name] = converted;
  }
  return out;
}

function walkField(field: protobuf.Field, v: Json, p: string, errors: Errors): unknown {
  if (field.map) {
    if (!isPlainObject(v)) {
      errors.add(p, `expected an object (map), got ${show(v)}`);
      return undefined;
    }
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      const converted = walkSingle(field, item, `${p}["${k}"]`, errors);
      if (converted !== undefined) out[k] = converted;
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(v)) {
      errors.add(p, `expected a list, got ${show(v)}`);
      return undefined;
    }
    const out: unknown[] = [];
    v.forEach((item: Json, i) => {
      const converted = walkSingle(field, item, idx(p, i), errors);
      if (converted !== undefined) out.push(converted);
    });
    return out;
  }
  return walkSingle(field, v, p, errors);
}

function walkSingle(field: protobuf.Field, v: Json, p: string, errors: Errors): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return walkMessage(resolved, v, p, errors);
  if (resolved instanceof protobuf.Enum) return walkEnum(resolved, v, p, errors);
  return walkScalar(field.type, v, p, errors);
}

function walkEnum(en: protobuf.Enum, v: Json, p: string, errors: Errors): unknown {
  if (typeof v === "string" && Object.hasOwn(en.values, v)) return v;
  if (typeof v === "number" && Number.isInteger(v) && Object.hasOwn(en.valuesById, v)) return v;
  errors.add(p, `invalid value ${show(v)}; expected one of ${Object.keys(en.values).join(", ")}`);
  return undefined;
}

function walkScalar(type: string, v: Json, p: string, errors: Errors): unknown {
  const range = INT_RANGES[type];
  if (range) {
    const n = typeof v === "string" && INT_TEXT.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) {
      errors.add(p, `expected an integer, got ${show(v)}`);
      return undefined;
    }
    if (n < range[0] || n > range[1]) {
      errors.add(p, `value ${show(v)} is out of range for ${type} (${range[0]}..${range[1]})`);
      return undefined;
    }
    return n;
  }
  switch (type) {
    case "string":
      if (typeof v === "string") return v;
      errors.add(p, `expected a string, got ${show(v)}`);
      return undefined;
    case "bool":
      if (typeof v === "boolean") return v;
      errors.add(p, `expected true or false, got ${show(v)}`);
      return undefined;
    case "double":
    case "float":
      if (typeof v === "number") return v;
      if (v === "NaN" || v === "Infinity" || v === "-Infinity") return Number(v);
      errors.add(p, `expected a number, got ${show(v)}`);
      return undefined;
    case "bytes":
      if (typeof v === "string" && BASE64.test(v)) return v;
      errors.add(p, `expected base64 bytes, got ${show(v)}`);
      return undefined;
    default:
      errors.add(p, `unsupported scalar type ${type}`);
      return undefined;
  }
}

/** Well-known types with special JSON forms; null when `type` is an ordinary message. */
function walkWellKnown(type: protobuf.Type, v: Json, p: string, errors: Errors): Canonical | undefined | null {
  const name = type.fullName;
  if (name === ".google.protobuf.Duration") return walkDuration(v, p, errors);
  if (name === ".google.protobuf.Any") return walkAny(v, p, errors);
  if (WRAPPERS.has(name)) {
    if (v === null) return undefined;
    const inner = walkSingle(type.fields.value, v, p, errors);
    return inner === undefined ? undefined : { value: inner };
  }
  if (name === ".google.protobuf.Struct") {
    if (!isPlainObject(v)) {
      errors.add(p, `expected an object, got ${show(v)}`);
      return undefined;
    }
    return structToCanonical(v);
  }
  if (name === ".google.protobuf.Value") return valueToCanonical(v);
  return null;
}

function walkDuration(v: Json, p: string, errors: Errors): Canonical | undefined {
  const m = typeof v === "string" ? DURATION.exec(v) : null;
  if (!m) {
    errors.add(p, `invalid duration ${show(v)}; expected seconds with an "s" suffix, e.g. "0.25s" or "5s"`);
    return undefined;
  }
  const seconds = Number(m[2]);
  if (m[1] === "-") {
    errors.add(p, `negative duration ${show(v)} is not allowed`);
    return undefined;
  }
  if (seconds > MAX_DURATION_SECONDS) {
    errors.add(p, `duration ${show(v)} is out of range`);
    return undefined;
  }
  const nanos = m[3] === undefined ? 0 : Number(m[3].padEnd(9, "0"));
  return { seconds, nanos };
}

function walkAny(v: Json, p: string, errors: Errors): Canonical | undefined {
  if (!isPlainObject(v)) {
    errors.add(p, `expected an object with "@type", got ${show(v)}`);
    return undefined;
  }
  const url = v["@type"];
  if (typeof url !== "string") {
    errors.add(at(p, "@type"), `missing or not a string: ${show(url)}`);
    return undefined;
  }
  const type = url.startsWith(TYPE_URL_PREFIX) ? lookupMessage(url) : undefined;
  if (!type || type.fullName.startsWith(".google.protobuf.")) {
    errors.add(at(p, "@type"), `unknown type ${show(url)}; pilotfish knows type.googleapis.com/<envoy message> for the messages in its subset`);
    return undefined;
  }
  const { ["@type"]: _ignored, ...rest } = v;
  const inner = walkMessage(type, rest, p, errors);
  return inner === undefined ? undefined : { "@type": url, ...inner };
}

function structToCanonical(obj: Record<string, Json>): Canonical {
  const fields: Record<string, unknown> = {};
  for (const [k, item] of Object.entries(obj)) fields[k] = valueToCanonical(item);
  return { fields };
}

function valueToCanonical(v: Json): Canonical {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map((item: Json) => valueToCanonical(item)) } };
  if (isPlainObject(v)) return { structValue: structToCanonical(v) };
  // JSON and YAML 1.2 produce nothing else; a caller passing exotic values gets null rather than a throw.
  return { nullValue: 0 };
}

/**
 * Validates proto3 JSON of the message `typeName` and encodes it to wire bytes. Invalid fields are
 * recorded in `errors` and left out of the bytes, so semantic checks can still run on the rest; the
 * result is undefined only when the top level itself is not an object.
 */
export function protoJsonToBinary(typeName: string, value: Json, path: string, errors: Errors): Uint8Array | undefined {
  const type = lookupMessage(typeName);
  if (!type) throw new Error(`pilotfish: ${typeName} missing from proto/`);
  const canonical = walkMessage(type, value, path, errors);
  if (canonical === undefined) return undefined;
  return type.encode(type.fromObject(canonical)).finish();
}
