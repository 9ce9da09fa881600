/**
 * HPACK (RFC 7541) for our HTTP/2 client and server: one encoder and one decoder per connection.
 *
 * The encoder writes every literal as raw octets, never Huffman-coded. Huffman coding saves ~20-30 %
 * of literal bytes but costs a bit-level loop per octet; the sidecar's links are loopback or in-cluster,
 * where those bytes are cheap and the CPU is not, and repeated fields go out as 1-2 byte table
 * indexes either way. The decoder reads both forms, as peers (nghttp2, grpc-js, h2load) Huffman-code
 * everything.
 *
 * Strings are latin1 both ways: a header octet is one UTF-16 unit, as node:http2 gives them, so a
 * string's length is its octet count, which table sizes and §6.5.2 accounting use.
 */
import type { OutgoingHttpHeaders } from "node:http2";
import { DynamicTable, EncoderTable, MAX_TABLE_SIZE } from "./hpack-dynamic-table.js";
import { huffmanDecode, huffmanMaxDecoded } from "./hpack-huffman.js";
import { STATIC_BY_NAME, STATIC_COUNT, STATIC_NAMES, STATIC_VALUES } from "./hpack-static-table.js";

/** How the encoder treats a field name; one Map lookup per field decides it. */
const enum Kind {
  INDEXED = 0,
  /** Values that change per request would churn the dynamic table (and evict useful entries). */
  NOT_INDEXED = 1,
  /** Credentials must not be indexed by us nor by any intermediary (RFC 7541 §7.1.3). */
  NEVER_INDEXED = 2,
  /** Connection-specific (RFC 9113 §8.2.2): dropped, as the peer would have to reject the message. */
  DROP = 3,
  /** `te`: only "trailers" may be sent, and only in requests. */
  TE = 4,
}

const KINDS: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  ...["content-length", "date", "x-request-id", "grpc-timeout", "traceparent"].map((n) => [n, Kind.NOT_INDEXED] as const),
  ...["authorization", "cookie", "proxy-authorization"].map((n) => [n, Kind.NEVER_INDEXED] as const),
  ...["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"].map((n) => [n, Kind.DROP] as const),
  ["te", Kind.TE],
]);

const EMPTY = Buffer.alloc(0);

export class HpackError extends Error {}

export class HpackEncoder {
  private readonly table = new EncoderTable();
  // -1: no change pending. The peer's SETTINGS_HEADER_TABLE_SIZE must be acknowledged in-band by a
  // dynamic table size update at the start of the next header block.
  private pendingSize = -1;
  /** The smallest size set since the last block: it must be signalled too (§4.2). */
  private pendingMin = -1;
  // One buffer per connection, grown as needed; each block is a view of it (see encode()).
  private buf = Buffer.allocUnsafeSlow(1024);
  private pos = 0;

  setMaxTableSize(size: number): void {
    // The peer only bounds us; staying at 4096 is allowed when it offers more.
    this.pendingSize = Math.min(size, MAX_TABLE_SIZE);
    if (this.pendingMin < 0 || this.pendingSize < this.pendingMin) this.pendingMin = this.pendingSize;
  }

  /**
   * Encodes a request header block. :scheme and :authority default to the connection's. Pseudo-headers
   * must precede regular ones, so the record is walked twice. Connection-specific fields (§8.2.2) are
   * dropped rather than sent, as the peer would have to reject the request.
   *
   * The block is a view of the encoder's buffer, valid until the next encode: the caller copies it
   * into its frame writer at once.
   */
  encode(headers: OutgoingHttpHeaders, scheme: string, authority: string): Buffer {
    this.begin();
    if (headers[":scheme"] === undefined) this.field(":scheme", scheme, Kind.INDEXED);
    if (headers[":authority"] === undefined) this.field(":authority", authority, Kind.INDEXED);
    for (const name in headers) {
      if (name.charCodeAt(0) !== 58) continue;
      const v = headers[name];
      if (v !== undefined) this.field(name, typeof v === "string" ? v : String(v), Kind.INDEXED);
    }
    for (const name in headers) {
      if (name.charCodeAt(0) === 58) continue;
      const v = headers[name];
      if (v === undefined) continue;
      const lower = name.toLowerCase();
      const kind = KINDS.get(lower) ?? Kind.INDEXED;
      if (kind === Kind.DROP || (kind === Kind.TE && v !== "trailers")) continue;
      this.fields(lower, v, kind);
    }
    return this.buf.subarray(0, this.pos);
  }

  /** Encodes a response header block (:status first) or, with no :status, a trailer block; same view as encode(). */
  encodeResponse(headers: OutgoingHttpHeaders): Buffer {
    this.begin();
    const status = headers[":status"];
    if (status !== undefined) this.field(":status", typeof status === "string" ? status : String(status), Kind.INDEXED);
    for (const name in headers) {
      const v = headers[name];
      if (v === undefined || name.charCodeAt(0) === 58) continue;
      const lower = name.toLowerCase();
      const kind = KINDS.get(lower) ?? Kind.INDEXED;
      if (kind === Kind.DROP || kind === Kind.TE) continue;
      this.fields(lower, v, kind);
    }
    return this.buf.subarray(0, this.pos);
  }

  private begin(): void {
    this.pos = 0;
    if (this.pendingSize < 0) return;
    // A shrink followed by a growth since the last block: the peer must evict down to the minimum too.
    if (this.pendingMin < this.pendingSize) {
      this.int(this.pendingMin, 0x1f, 0x20);
      this.table.resize(this.pendingMin);
    }
    this.int(this.pendingSize, 0x1f, 0x20);
    this.table.resize(this.pendingSize);
    this.pendingSize = -1;
    this.pendingMin = -1;
  }

  private fields(name: string, v: string | number | readonly string[], kind: Kind): void {
    if (typeof v === "string") this.field(name, v, kind);
    else if (typeof v === "number") this.field(name, String(v), kind);
    else for (let i = 0; i < v.length; i++) this.field(name, v[i], kind);
  }

  private field(name: string, value: string, kind: Kind): void {
    // Worst case: three integers of up to 6 octets, then the strings.
    const need = this.pos + name.length + value.length + 18;
    if (need > this.buf.length) this.grow(need);
    const st = STATIC_BY_NAME.get(name);
    if (kind === Kind.NEVER_INDEXED) {
      this.literal(0x10, 0x0f, st === undefined ? 0 : st.index, name, value);
      return;
    }
    let index = st === undefined ? 0 : (st.values.get(value) ?? 0);
    if (index === 0) index = this.table.find(name, value);
    if (index > 0) {
      this.int(index, 0x7f, 0x80);
      return;
    }
    // The name's index is taken before an insert would shift the dynamic ones.
    const nameIndex = st === undefined ? this.table.findName(name) : st.index;
    // An entry larger than the table would only empty it (§4.4).
    if (kind === Kind.NOT_INDEXED || name.length + value.length + 32 > this.table.maxSize) {
      this.literal(0x00, 0x0f, nameIndex, name, value);
    } else {
      this.literal(0x40, 0x3f, nameIndex, name, value);
      this.table.add(name, value);
    }
  }

  /** A literal field (§6.2): its representation bits, then the name's index or the name, then the value. */
  private literal(bits: number, prefixMax: number, nameIndex: number, name: string, value: string): void {
    this.int(nameIndex, prefixMax, bits);
    if (nameIndex === 0) this.str(name);
    this.str(value);
  }

  /** An integer with a prefix of `prefixMax` bits' worth, the first octet's other bits set to `bits` (§5.1). */
  private int(v: number, prefixMax: number, bits: number): void {
    const b = this.buf;
    let p = this.pos;
    if (v < prefixMax) {
      b[p++] = bits | v;
    } else {
      b[p++] = bits | prefixMax;
      v -= prefixMax;
      while (v >= 128) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
    }
    this.pos = p;
  }

  /** A raw (H = 0) string literal (§5.2); a UTF-16 unit above 0xff keeps its low octet, as latin1 does. */
  private str(s: string): void {
    const n = s.length;
    this.int(n, 0x7f, 0x00);
    const b = this.buf;
    const p = this.pos;
    // A loop beats the native call's fixed cost on the short strings most fields carry.
    if (n < 32) for (let i = 0; i < n; i++) b[p + i] = s.charCodeAt(i);
    else b.write(s, p, n, "latin1");
    this.pos = p + n;
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

export class HpackDecoder {
  private readonly table = new DynamicTable();
  // The block being decoded and the read position, as fields: the integer and string readers advance
  // them without returning pairs.
  private src: Buffer = EMPTY;
  private pos = 0;
  private scratch = Buffer.allocUnsafeSlow(256);

  /**
   * Decodes one complete header block into `fields` as name, value pairs in wire order (validation is
   * the caller's). Every block must be decoded, even for streams we no longer track, or the dynamic
   * table goes out of sync with the peer's. Returns the header list size as §6.5.2 counts it; fields
   * past `limit` bytes of it are decoded but not kept (an HPACK bomb costs no memory). Throws
   * HpackError on a malformed block. Nothing of a block outlives its call but the table's entries, so
   * an error leaves no partial state behind for a stray later call.
   */
  decode(block: Buffer, fields: string[], limit = Infinity): number {
    const table = this.table;
    this.src = block;
    this.pos = 0;
    const end = block.length;
    let size = 0;
    let seen = false;
    try {
      while (this.pos < end) {
        const first = block[this.pos];
        let name: string;
        let value: string;
        if (first >= 0x80) {
          // §6.1 indexed field.
          const index = this.int(0x7f);
          if (index <= STATIC_COUNT) {
            if (index === 0) throw new HpackError("HPACK decoding failed: index 0");
            name = STATIC_NAMES[index];
            value = STATIC_VALUES[index];
          } else {
            const slot = table.slot(index);
            if (slot < 0) throw new HpackError(`HPACK decoding failed: index ${index} beyond the table`);
            name = table.name(slot);
            value = table.value(slot);
          }
        } else if (first >= 0x40) {
          // §6.2.1 literal with incremental indexing.
          const index = this.int(0x3f);
          name = index === 0 ? this.str() : this.nameAt(index);
          value = this.str();
          table.add(name, value);
        } else if (first >= 0x20) {
          // §6.3 dynamic table size update: only before the first field, and within our setting.
          if (seen) throw new HpackError("HPACK decoding failed: dynamic table size update after a field");
          const next = this.int(0x1f);
          if (next > MAX_TABLE_SIZE) throw new HpackError(`HPACK decoding failed: dynamic table size update to ${next}, above our ${MAX_TABLE_SIZE}`);
          table.resize(next);
          continue;
        } else {
          // §6.2.2 without indexing (0000) and §6.2.3 never indexed (0001): alike for a decoder.
          const index = this.int(0x0f);
          name = index === 0 ? this.str() : this.nameAt(index);
          value = this.str();
        }
        seen = true;
        // RFC 9113 §6.5.2's accounting: octets of name and value plus 32 per field.
        size += name.length + value.length + 32;
        if (size <= limit) fields.push(name, value);
      }
    } catch (err) {
      if (err instanceof HpackError) throw err;
      throw new HpackError(`HPACK decoding failed: ${(err as Error).message}`);
    } finally {
      this.src = EMPTY;
    }
    return size;
  }

  private nameAt(index: number): string {
    if (index <= STATIC_COUNT) return STATIC_NAMES[index];
    const slot = this.table.slot(index);
    if (slot < 0) throw new HpackError(`HPACK decoding failed: name index ${index} beyond the table`);
    return this.table.name(slot);
  }

  /** An integer whose prefix is the low bits `prefixMax` covers of the current octet (§5.1). */
  private int(prefixMax: number): number {
    const b = this.src;
    let p = this.pos;
    if (p >= b.length) throw new HpackError("HPACK decoding failed: block ends inside a field");
    let v = b[p++] & prefixMax;
    if (v === prefixMax) {
      let shift = 0;
      let octet: number;
      do {
        if (p >= b.length) throw new HpackError("HPACK decoding failed: block ends inside an integer");
        octet = b[p++];
        v += (octet & 0x7f) * 2 ** shift;
        shift += 7;
        // Four continuation octets reach 2^28, beyond any index or length a block can carry.
        if (shift > 28) throw new HpackError("HPACK decoding failed: integer too large");
      } while ((octet & 0x80) !== 0);
    }
    this.pos = p;
    return v;
  }

  /** A string literal (§5.2), raw or Huffman-coded, as latin1. */
  private str(): string {
    const b = this.src;
    if (this.pos >= b.length) throw new HpackError("HPACK decoding failed: block ends before a string");
    const huffman = (b[this.pos] & 0x80) !== 0;
    const len = this.int(0x7f);
    const start = this.pos;
    const end = start + len;
    if (end > b.length) throw new HpackError("HPACK decoding failed: string runs past the block");
    this.pos = end;
    if (!huffman) return b.toString("latin1", start, end);
    const max = huffmanMaxDecoded(len);
    if (max > this.scratch.length) this.scratch = Buffer.allocUnsafeSlow(Math.max(max, this.scratch.length * 2));
    const n = huffmanDecode(b, start, end, this.scratch);
    if (n < 0) throw new HpackError("HPACK decoding failed: invalid Huffman string (EOS or bad padding)");
    return this.scratch.toString("latin1", 0, n);
  }
}
