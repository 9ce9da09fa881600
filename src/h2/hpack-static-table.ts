/** HPACK's static table (RFC 7541 Appendix A), indexed 1..61, with the encoder's reverse lookups. */

/** Index 0 is unused so that an HPACK index reads the arrays directly. */
export const STATIC_NAMES: readonly string[] = [""];
export const STATIC_VALUES: readonly string[] = [""];
/** The last static index; dynamic entries start after it. */
export const STATIC_COUNT = 61;

/** Reverse lookup of one name: its lowest index, and the index of each value it is listed with. */
export interface StaticName {
  /** The first index carrying this name (for a literal with an indexed name). */
  readonly index: number;
  /** Value → index, for the entries of this name that have a value worth matching. */
  readonly values: Map<string, number>;
}

/**
 * Name → StaticName. Nested maps rather than a name+value key: a lookup then builds no string per
 * field, and most names the encoder sees have no static value at all.
 */
export const STATIC_BY_NAME: ReadonlyMap<string, StaticName> = buildStatic([
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
]);

function buildStatic(entries: ReadonlyArray<readonly [string, string]>): Map<string, StaticName> {
  const byName = new Map<string, StaticName>();
  const names = STATIC_NAMES as string[];
  const values = STATIC_VALUES as string[];
  for (let i = 0; i < entries.length; i++) {
    const [name, value] = entries[i];
    const index = i + 1;
    names.push(name);
    values.push(value);
    let entry = byName.get(name);
    if (entry === undefined) byName.set(name, (entry = { index, values: new Map() }));
    // An empty static value would only match an empty field; it is matched all the same.
    if (!entry.values.has(value)) entry.values.set(value, index);
  }
  if (names.length !== STATIC_COUNT + 1) throw new Error(`static table has ${names.length - 1} entries`);
  return byName;
}
