/**
 * HPACK for the scripted client (RFC 7541), on hpack.js's primitives: a request encoder that indexes
 * fields and Huffman-codes strings the way a browser would (so every well-formed request also tests
 * the server's dynamic table and Huffman decoder), and a response decoder that keeps the server's
 * dynamic table in step. Malformed blocks are built by hand with h2-frames.ts's literal builders, which
 * never touch these tables.
 */
import hpack from "hpack.js";

const TABLE_SIZE = 4096;

/** A header field list in wire order. */
export type Fields = ReadonlyArray<readonly [string, string]>;

/** Encodes request header blocks against one connection's dynamic table. */
export class RequestEncoder {
  private readonly table = hpack.table.create({ maxSize: TABLE_SIZE });

  /** One header block: fields in the given order, `:`-fields included, values never checked. */
  encode(fields: Fields): Buffer {
    const enc = hpack.encoder.create();
    for (const [name, value] of fields) {
      const index = this.table.reverseLookup(name, value);
      if (index > 0) {
        enc.encodeBit(1);
        enc.encodeInt(index);
        continue;
      }
      // Literal with incremental indexing (§6.2.1): name by index when the table has it.
      const valueBytes = hpack.utils.toArray(value);
      enc.encodeBit(0);
      enc.encodeBit(1);
      this.table.add(name, value, name.length, valueBytes.length);
      enc.encodeInt(-index);
      if (index === 0) enc.encodeStr(hpack.utils.toArray(name), true);
      enc.encodeStr(valueBytes, true);
    }
    return Buffer.concat(enc.render());
  }
}

/** Decodes the server's header blocks, in order (every block must be decoded to keep the table). */
export class ResponseDecoder {
  private readonly table = hpack.table.create({ maxSize: TABLE_SIZE });
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for. */
  private limit = TABLE_SIZE;
  /** Whether the server owes us a size update (§4.2: we lowered the limit below the table's size). */
  private updateDue = false;

  /** We advertised SETTINGS_HEADER_TABLE_SIZE = `size` (the server has it before any response). */
  setLimit(size: number): void {
    this.limit = size;
    this.updateDue = size < TABLE_SIZE;
  }

  /** The block's fields, or an Error naming what was malformed (the case fails on it). */
  decode(block: Buffer): Array<[string, string]> | Error {
    const d = hpack.decoder.create();
    const fields: Array<[string, string]> = [];
    try {
      d.push(block);
      if (this.updateDue && (block.length === 0 || (block[0] & 0xe0) !== 0x20)) {
        return new Error(`no dynamic table size update at the start of the first block after SETTINGS_HEADER_TABLE_SIZE=${this.limit} (RFC 7541 §4.2)`);
      }
      this.updateDue = false;
      while (!d.isEmpty()) {
        if (d.decodeBit() === 1) {
          const e = this.table.lookup(d.decodeInt());
          fields.push([e.name, e.value]);
          continue;
        }
        const incremental = d.decodeBit() === 1;
        if (!incremental && d.decodeBit() === 1) {
          const size = d.decodeInt();
          if (fields.length > 0) return new Error("a table size update after a field (RFC 7541 §4.2)");
          if (size > this.limit) return new Error(`a table size update to ${size}, above our SETTINGS_HEADER_TABLE_SIZE ${this.limit}`);
          this.table.updateSize(size);
          continue;
        }
        if (!incremental) d.decodeBit();
        const index = d.decodeInt();
        let name: string;
        let nameSize: number;
        if (index === 0) {
          const raw = d.decodeStr();
          name = hpack.utils.stringify(raw);
          nameSize = raw.length;
        } else {
          const e = this.table.lookup(index);
          name = e.name;
          nameSize = e.nameSize;
        }
        const raw = d.decodeStr();
        const value = hpack.utils.stringify(raw);
        if (incremental) this.table.add(name, value, nameSize, raw.length);
        fields.push([name, value]);
      }
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
    return fields;
  }
}
