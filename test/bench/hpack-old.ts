/**
 * BENCHMARK BASELINE ONLY (and the hpack.js reference decoder of test/unit/hpack.test.ts): the
 * hpack.js-based HPACK that src/h2/hpack.ts replaced, kept as it was for `npm run bench:hpack`.
 *
 * HPACK for our HTTP/2 client and server, on hpack.js's primitives (integer/string/Huffman coding and the
 * dynamic table). hpack.js's public Compressor/Decompressor are readable-stream Duplexes: every
 * header block would go through stream machinery and a nextTick, which costs more than the coding
 * itself at ~1 block per request each way. So this file drives the same primitives directly.
 *
 * Note: hpack.js's README shows `table: { size }`, but its Table reads `maxSize`; with `size` the
 * dynamic table is never evicted. We pass `maxSize`.
 */
import type { OutgoingHttpHeaders } from "node:http2";
import hpack from "hpack.js";

const DEFAULT_TABLE_SIZE = 4096;

// Values that change per request would churn the dynamic table (and evict useful entries) if indexed;
// credentials must not be indexed at all (RFC 7541 §7.1.3).
const NOT_INDEXED = new Set(["content-length", "date", "x-request-id", "grpc-timeout", "traceparent"]);
const NEVER_INDEXED = new Set(["authorization", "cookie", "proxy-authorization"]);
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"]);

export class HpackError extends Error {}

export class HpackEncoder {
  private readonly table = hpack.table.create({ maxSize: DEFAULT_TABLE_SIZE });
  // -1: no change pending. The peer's SETTINGS_HEADER_TABLE_SIZE must be acknowledged in-band by a
  // dynamic table size update at the start of the next header block.
  private pendingSize = -1;

  setMaxTableSize(size: number): void {
    // The peer only bounds us; staying at 4096 is allowed when it offers more.
    this.pendingSize = Math.min(size, DEFAULT_TABLE_SIZE);
  }

  /**
   * Encodes a request header block. :scheme and :authority default to the connection's. Pseudo-headers
   * must precede regular ones, so the record is walked twice. Connection-specific fields (§8.2.2) are
   * dropped rather than sent, as the peer would have to reject the request.
   */
  encode(headers: OutgoingHttpHeaders, scheme: string, authority: string): Buffer {
    const enc = hpack.encoder.create();
    if (this.pendingSize >= 0) {
      enc.encodeBits(1, 3);
      enc.encodeInt(this.pendingSize);
      this.table.updateSize(this.pendingSize);
      this.pendingSize = -1;
    }
    if (headers[":scheme"] === undefined) this.field(enc, ":scheme", scheme);
    if (headers[":authority"] === undefined) this.field(enc, ":authority", authority);
    for (const name in headers) {
      if (name.charCodeAt(0) !== 58) continue;
      const v = headers[name];
      if (v !== undefined) this.field(enc, name, typeof v === "string" ? v : String(v));
    }
    for (const name in headers) {
      if (name.charCodeAt(0) === 58) continue;
      const v = headers[name];
      if (v === undefined) continue;
      const lower = name.toLowerCase();
      if (CONNECTION_SPECIFIC.has(lower) || (lower === "te" && v !== "trailers")) continue;
      if (typeof v === "string") this.field(enc, lower, v);
      else if (typeof v === "number") this.field(enc, lower, String(v));
      else for (let i = 0; i < v.length; i++) this.field(enc, lower, v[i]);
    }
    const parts = enc.render();
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Encodes a response header block (:status first) or, with `trailers`, a trailer block. */
  encodeResponse(headers: OutgoingHttpHeaders): Buffer {
    const enc = hpack.encoder.create();
    if (this.pendingSize >= 0) {
      enc.encodeBits(1, 3);
      enc.encodeInt(this.pendingSize);
      this.table.updateSize(this.pendingSize);
      this.pendingSize = -1;
    }
    const status = headers[":status"];
    if (status !== undefined) this.field(enc, ":status", typeof status === "string" ? status : String(status));
    for (const name in headers) {
      const v = headers[name];
      if (v === undefined || name.charCodeAt(0) === 58) continue;
      const lower = name.toLowerCase();
      if (CONNECTION_SPECIFIC.has(lower) || lower === "te") continue;
      if (typeof v === "string") this.field(enc, lower, v);
      else if (typeof v === "number") this.field(enc, lower, String(v));
      else for (let i = 0; i < v.length; i++) this.field(enc, lower, v[i]);
    }
    const parts = enc.render();
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  private field(enc: ReturnType<typeof hpack.encoder.create>, name: string, value: string): void {
    const never = NEVER_INDEXED.has(name);
    const index = never ? 0 : this.table.reverseLookup(name, value);
    if (index > 0) {
      enc.encodeBit(1);
      enc.encodeInt(index);
      return;
    }
    const incremental = !never && !NOT_INDEXED.has(name);
    const valueBytes = hpack.utils.toArray(value);
    enc.encodeBit(0);
    if (incremental) {
      enc.encodeBit(1);
      this.table.add(name, value, name.length, valueBytes.length);
    } else {
      enc.encodeBits(never ? 1 : 0, 3);
    }
    // A negative index from reverseLookup means "this name is in the table, the value is not".
    enc.encodeInt(-index);
    if (index === 0) enc.encodeStr(hpack.utils.toArray(name), true);
    enc.encodeStr(valueBytes, true);
  }
}

export class HpackDecoder {
  private readonly table = hpack.table.create({ maxSize: DEFAULT_TABLE_SIZE });
  private dec = hpack.decoder.create();

  /**
   * Decodes one complete header block into `fields` as name, value pairs in wire order (validation is
   * the caller's). Every block must be decoded, even for streams we no longer track, or the dynamic
   * table goes out of sync with the peer's. Returns the header list size as §6.5.2 counts it; fields
   * past `limit` bytes of it are decoded but not kept (an HPACK bomb costs no memory). Throws
   * HpackError on a malformed block.
   */
  decode(block: Buffer, fields: string[], limit = Infinity): number {
    const d = this.dec;
    const table = this.table;
    let size = 0;
    try {
      d.push(block);
      while (!d.isEmpty()) {
        let name: string;
        let value: string;
        if (d.decodeBit() === 1) {
          const e = table.lookup(d.decodeInt());
          name = e.name;
          value = e.value;
        } else {
          const incremental = d.decodeBit() === 1;
          if (!incremental) {
            if (d.decodeBit() === 1) {
              if (size > 0) throw new Error("dynamic table size update after a field");
              const next = d.decodeInt();
              if (next > DEFAULT_TABLE_SIZE) throw new Error("dynamic table size update above our limit");
              table.updateSize(next);
              continue;
            }
            d.decodeBit();
          }
          const index = d.decodeInt();
          let nameSize: number;
          if (index === 0) {
            const raw = d.decodeStr();
            nameSize = raw.length;
            name = hpack.utils.stringify(raw);
          } else {
            const e = table.lookup(index);
            name = e.name;
            nameSize = e.nameSize;
          }
          const raw = d.decodeStr();
          value = hpack.utils.stringify(raw);
          if (incremental) table.add(name, value, nameSize, raw.length);
        }
        // RFC 9113 §6.5.2's accounting: octets of name and value plus 32 per field.
        size += name.length + value.length + 32;
        if (size <= limit) fields.push(name, value);
      }
    } catch (err) {
      // The connection fails on this; a fresh decoder keeps a stray later call from reading leftovers.
      this.dec = hpack.decoder.create();
      throw new HpackError(`HPACK decoding failed: ${(err as Error).message}`);
    }
    return size;
  }
}
