/**
 * HPACK (RFC 7541): the decoder against the RFC's Appendix C vectors and error rules, the Huffman
 * code against the RFC's table, and the encoder by round trips through our decoder and through the
 * hpack.js-based decoder it replaced (test/bench/hpack-old.ts, a reference for the wire format).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { OutgoingHttpHeaders } from "node:http2";
import { HpackDecoder, HpackEncoder, HpackError } from "../../src/h2/hpack.js";
import { HUFFMAN_CODE_LENGTHS, HUFFMAN_CODES, huffmanDecode } from "../../src/h2/hpack-huffman.js";
import { STATIC_NAMES, STATIC_VALUES } from "../../src/h2/hpack-static-table.js";
import { HpackDecoder as ReferenceDecoder } from "../bench/hpack-old.js";

type Field = [string, string];

/** Hex as the RFC prints it (spaces ignored). */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

function pairs(flat: string[]): Field[] {
  const out: Field[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

function decode(dec: { decode(b: Buffer, f: string[], limit?: number): number }, block: Buffer): Field[] {
  const fields: string[] = [];
  dec.decode(block, fields);
  return pairs(fields);
}

/** The decoder's dynamic table, newest first, read back through indexed fields 62, 63, ... */
function tableOf(dec: HpackDecoder): Field[] {
  const out: Field[] = [];
  for (let i = 62; ; i++) {
    const fields: string[] = [];
    try {
      // A 7-bit prefix: up to 126 in one octet, then 127 plus one continuation octet (the table holds <= 128).
      dec.decode(i < 127 ? Buffer.from([0x80 | i]) : Buffer.from([0xff, i - 127]), fields);
    } catch (err) {
      assert.ok(err instanceof HpackError);
      return out;
    }
    out.push([fields[0], fields[1]]);
  }
}

const SIZE_UPDATE_256 = hex("3fe101");
const DATE_21 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE_22 = "Mon, 21 Oct 2013 20:13:22 GMT";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

// ------------------------------------------------------------------------------------------ RFC vectors

void test("C.2: literal representations decode, with and without indexing", () => {
  let dec = new HpackDecoder();
  assert.deepEqual(decode(dec, hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")), [["custom-key", "custom-header"]]);
  assert.deepEqual(tableOf(dec), [["custom-key", "custom-header"]]);
  dec = new HpackDecoder();
  assert.deepEqual(decode(dec, hex("040c 2f73 616d 706c 652f 7061 7468")), [[":path", "/sample/path"]]);
  assert.deepEqual(tableOf(dec), []);
  dec = new HpackDecoder();
  assert.deepEqual(decode(dec, hex("1008 7061 7373 776f 7264 0673 6563 7265 74")), [["password", "secret"]]);
  assert.deepEqual(tableOf(dec), []);
  assert.deepEqual(decode(new HpackDecoder(), hex("82")), [[":method", "GET"]]);
});

const C3_C4_FIELDS: Field[][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], ["cache-control", "no-cache"]],
  [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"]],
];
const C3_C4_TABLES: Field[][] = [
  [[":authority", "www.example.com"]],
  [["cache-control", "no-cache"], [":authority", "www.example.com"]],
  [["custom-key", "custom-value"], ["cache-control", "no-cache"], [":authority", "www.example.com"]],
];

for (const [name, blocks] of [
  ["C.3: requests without Huffman coding", ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865", "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"]],
  ["C.4: requests with Huffman coding", ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf", "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]],
] as const) {
  void test(name, () => {
    const dec = new HpackDecoder();
    blocks.forEach((block, i) => {
      assert.deepEqual(decode(dec, hex(block)), C3_C4_FIELDS[i], `request ${i + 1}`);
      assert.deepEqual(tableOf(dec), C3_C4_TABLES[i], `table after request ${i + 1}`);
    });
  });
}

const C5_C6_FIELDS: Field[][] = [
  [[":status", "302"], ["cache-control", "private"], ["date", DATE_21], ["location", "https://www.example.com"]],
  [[":status", "307"], ["cache-control", "private"], ["date", DATE_21], ["location", "https://www.example.com"]],
  [[":status", "200"], ["cache-control", "private"], ["date", DATE_22], ["location", "https://www.example.com"], ["content-encoding", "gzip"], ["set-cookie", COOKIE]],
];
// A 256-octet table evicts as the responses go (C.5.2 drops :status 302; C.5.3 keeps only its own three).
const C5_C6_TABLES: Field[][] = [
  [["location", "https://www.example.com"], ["date", DATE_21], ["cache-control", "private"], [":status", "302"]],
  [[":status", "307"], ["location", "https://www.example.com"], ["date", DATE_21], ["cache-control", "private"]],
  [["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE_22]],
];

for (const [name, blocks] of [
  [
    "C.5: responses without Huffman coding, with eviction",
    [
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ],
  ],
  [
    "C.6: responses with Huffman coding, with eviction",
    [
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ],
  ],
] as const) {
  void test(name, () => {
    const dec = new HpackDecoder();
    // The RFC's peer runs a 256-octet table: a size update first tells our 4096-octet decoder so.
    assert.deepEqual(decode(dec, SIZE_UPDATE_256), []);
    blocks.forEach((block, i) => {
      assert.deepEqual(decode(dec, hex(block)), C5_C6_FIELDS[i], `response ${i + 1}`);
      assert.deepEqual(tableOf(dec), C5_C6_TABLES[i], `table after response ${i + 1}`);
    });
  });
}

void test("every static table entry (RFC 7541 Appendix A) decodes by index and encodes as that index", () => {
  assert.equal(STATIC_NAMES.length, 62);
  const dec = new HpackDecoder();
  const ref = new ReferenceDecoder();
  for (let i = 1; i <= 61; i++) {
    const expected = decode(ref, Buffer.from([0x80 | i]));
    assert.deepEqual(decode(dec, Buffer.from([0x80 | i])), expected, `index ${i}`);
    assert.deepEqual([[STATIC_NAMES[i], STATIC_VALUES[i]]], expected);
  }
  // The encoder sends a field equal to a static entry as its index, pseudo-headers and credentials aside.
  const enc = new HpackEncoder();
  const firstOfName = new Map<string, number>();
  for (let i = 1; i <= 61; i++) if (!firstOfName.has(STATIC_NAMES[i])) firstOfName.set(STATIC_NAMES[i], i);
  for (let i = 1; i <= 61; i++) {
    const name = STATIC_NAMES[i];
    const value = STATIC_VALUES[i];
    if (name.startsWith(":")) {
      if (name === ":status") assert.deepEqual([...enc.encodeResponse({ [name]: value })], [0x80 | i]);
      continue;
    }
    const block = Buffer.from(enc.encodeResponse({ [name]: value }));
    if (name === "transfer-encoding") assert.equal(block.length, 0, "connection-specific: dropped");
    else if (name === "authorization" || name === "cookie" || name === "proxy-authorization") {
      // Never indexed (0001), with the static name's index: 4-bit prefix 15, then the rest.
      const index = firstOfName.get(name) ?? 0;
      assert.deepEqual([...block.subarray(0, 2)], [0x1f, index - 15], name);
    } else assert.deepEqual([...block], [0x80 | i], `${name}: ${value}`);
  }
  assert.deepEqual([...new HpackEncoder().encode({ ":method": "POST", ":path": "/index.html" }, "https", "")], [0x87, 0x81, 0x83, 0x85]);
});

// -------------------------------------------------------------------------------------------- Huffman

/** A test-only Huffman encoder over the module's canonical codes (the encoder itself sends raw octets). */
function huffmanEncode(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const len = HUFFMAN_CODE_LENGTHS[b];
    const code = HUFFMAN_CODES[b];
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1));
  return Buffer.from(out);
}

void test("Huffman: the canonical codes rebuilt from lengths are RFC 7541 Appendix B's", () => {
  // Spot checks from Appendix B (code, length): ' ', '0', 'a', '{', 0xff, EOS.
  const spots: Array<[number, number, number]> = [
    [32, 0x14, 6],
    [48, 0x0, 5],
    [97, 0x3, 5],
    [123, 0x7ffe, 15],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, len] of spots) assert.deepEqual([HUFFMAN_CODES[sym], HUFFMAN_CODE_LENGTHS[sym]], [code, len], `symbol ${sym}`);
  // Kraft equality: a complete prefix code.
  assert.equal(
    HUFFMAN_CODE_LENGTHS.reduce((s, l) => s + 2 ** -l, 0),
    1,
  );
});

void test("Huffman: every octet, and random strings, decode back", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const out = Buffer.alloc(512);
  const enc = huffmanEncode(all);
  const n = huffmanDecode(enc, 0, enc.length, out);
  assert.deepEqual([...out.subarray(0, n)], [...all]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const e = huffmanEncode(bytes);
      const m = huffmanDecode(e, 0, e.length, out);
      assert.deepEqual([...out.subarray(0, m)], [...bytes]);
    }),
    { numRuns: 300 },
  );
});

void test("Huffman: EOS in the string, padding over 7 bits, or padding not all ones are errors", () => {
  const out = Buffer.alloc(64);
  const www = hex("f1e3c2e5f23a6ba0ab90f4ff");
  assert.equal(huffmanDecode(www, 0, www.length, out), 15);
  assert.equal(huffmanDecode(Buffer.concat([www, Buffer.from([0xff])]), 0, 13, out), -1, "8 bits of padding");
  assert.equal(huffmanDecode(hex("ffffffff"), 0, 4, out), -1, "EOS");
  assert.equal(huffmanDecode(hex("a8eb10649cbe"), 0, 6, out), -1, "padding 11110");
  // '0' (00000) padded with 3 ones is fine; padded with 101 is not.
  assert.equal(huffmanDecode(Buffer.from([0x07]), 0, 1, out), 1);
  assert.equal(huffmanDecode(Buffer.from([0x05]), 0, 1, out), -1);
  assert.equal(huffmanDecode(Buffer.alloc(0), 0, 0, out), 0);
});

// -------------------------------------------------------------------------------------- decoder errors

void test("malformed blocks throw HpackError, and the decoder decodes the next block afterwards", () => {
  const bad: Array<[string, Buffer]> = [
    ["index 0", hex("80")],
    ["index beyond the table", hex("c6")],
    ["name index beyond the table", hex("7f 01 01 61")],
    ["integer overflow", hex("ff ff ff ff ff ff ff 7f")],
    ["integer cut", hex("ff 80")],
    ["size update above 4096", hex("3f e2 1f")],
    ["size update after a field", hex("82 20")],
    ["string cut", hex("00 05 61 62")],
    ["literal ends before its value", hex("00 01 61")],
    ["bad Huffman", hex("00 01 61 86 a8eb10649cbe")],
    ["Huffman EOS", hex("00 01 61 84 ffffffff")],
  ];
  const dec = new HpackDecoder();
  decode(dec, hex("40 01 61 01 62"));
  for (const [what, block] of bad) {
    assert.throws(() => dec.decode(block, []), HpackError, what);
    // The old primitives reject the same blocks (a cross-check of the vectors themselves).
    assert.throws(() => new ReferenceDecoder().decode(block, []), /HPACK decoding failed/, `reference: ${what}`);
    assert.deepEqual(decode(dec, hex("82 be")), [[":method", "GET"], ["a", "b"]], `after ${what}`);
  }
  // The largest table size is fine, and so is more than one update at the start.
  assert.deepEqual(decode(dec, hex("3f e1 1f 20 3f e1 1f 82")), [[":method", "GET"]]);
});

void test("fields past the limit are decoded (the table stays in step) but not kept; the size counts all", () => {
  const dec = new HpackDecoder();
  const fields: string[] = [];
  // :method GET (42), then a 4000-octet literal indexed, then 10 references to it (4033 each).
  const big = "b".repeat(4000);
  const block = Buffer.concat([hex("82 40 01 78 7f a1 1e"), Buffer.from(big), Buffer.alloc(10, 0xbe)]);
  const size = dec.decode(block, fields, 8192);
  assert.equal(size, 42 + 11 * (1 + 4000 + 32));
  assert.deepEqual(pairs(fields), [[":method", "GET"], ["x", big], ["x", big]]);
  assert.deepEqual(tableOf(dec), [["x", big]]);
});

void test("strings are latin1: each octet one UTF-16 unit, as node:http2 and hpack.js give them", () => {
  const block = hex("00 02 78 2d 04 e9 ff 00 7f");
  const ours = decode(new HpackDecoder(), block);
  assert.deepEqual(ours, [["x-", "\u00e9\u00ff\u0000\u007f"]]);
  assert.deepEqual(decode(new ReferenceDecoder(), block), ours);
  // Huffman-coded octets above 0x7f too.
  const huff = huffmanEncode(Uint8Array.from([0x80, 0xe9, 0xff]));
  const hb = Buffer.concat([hex("00 01 78"), Buffer.from([0x80 | huff.length]), huff]);
  assert.deepEqual(decode(new HpackDecoder(), hb), [["x", "\u0080\u00e9\u00ff"]]);
});

// -------------------------------------------------------------------------------------------- encoder

/** Encodes blocks with one encoder and decodes each with ours and the reference, in step. */
class RoundTrip {
  readonly enc = new HpackEncoder();
  readonly dec = new HpackDecoder();
  readonly ref = new ReferenceDecoder();

  request(headers: OutgoingHttpHeaders, scheme = "http", authority = "svc:80"): { fields: Field[]; bytes: number } {
    return this.check(this.enc.encode(headers, scheme, authority));
  }

  response(headers: OutgoingHttpHeaders): { fields: Field[]; bytes: number } {
    return this.check(this.enc.encodeResponse(headers));
  }

  /** Decodes `block` with both decoders, which must agree. */
  check(block: Buffer): { fields: Field[]; bytes: number } {
    const copy = Buffer.from(block);
    const fields = decode(this.dec, copy);
    assert.deepEqual(decode(this.ref, copy), fields, "the hpack.js-based decoder reads the same fields");
    return { fields, bytes: copy.length };
  }
}

const GRPC_REQUEST: OutgoingHttpHeaders = {
  ":method": "POST",
  ":path": "/echo.Echo/Unary",
  "content-type": "application/grpc",
  te: "trailers",
  "user-agent": "grpc-node-js/1.14.7",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-timeout": "999m",
  "x-request-id": "5f1c9a8e-1b2c-4d3e-8f90-123456789abc",
};

void test("encoder: requests put pseudo-headers first and default :scheme/:authority; repeats become indexes", () => {
  const rt = new RoundTrip();
  const first = rt.request(GRPC_REQUEST);
  assert.deepEqual(first.fields, [
    [":scheme", "http"],
    [":authority", "svc:80"],
    [":method", "POST"],
    [":path", "/echo.Echo/Unary"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["user-agent", "grpc-node-js/1.14.7"],
    ["grpc-accept-encoding", "identity,deflate,gzip"],
    ["grpc-timeout", "999m"],
    ["x-request-id", "5f1c9a8e-1b2c-4d3e-8f90-123456789abc"],
  ]);
  const second = rt.request({ ...GRPC_REQUEST, "grpc-timeout": "998m", "x-request-id": "another" });
  // 8 indexed fields (1 octet each), then grpc-timeout and x-request-id as literals with new names.
  assert.equal(second.bytes, 8 + (1 + 1 + 12 + 1 + 4) + (1 + 1 + 12 + 1 + 7));
  assert.deepEqual(rt.request({ ":method": "GET", ":scheme": "https", ":authority": "a", ":path": "/" }).fields, [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "a"],
    [":path", "/"],
  ]);
});

void test("encoder: NOT_INDEXED and NEVER_INDEXED fields, dropped connection fields, te only 'trailers' in requests", () => {
  const rt = new RoundTrip();
  const headers: OutgoingHttpHeaders = {
    ":method": "GET",
    ":path": "/",
    Connection: "close",
    "keep-alive": "5",
    "Proxy-Connection": "x",
    "transfer-encoding": "chunked",
    upgrade: "h2c",
    "http2-settings": "AAA",
    te: "gzip",
    "X-Multi": ["a", "b"],
    "content-length": 12,
    authorization: "Bearer secret",
    cookie: "c=1",
    date: "today",
  };
  const fields = rt.request(headers).fields;
  assert.deepEqual(fields.slice(4), [
    ["x-multi", "a"],
    ["x-multi", "b"],
    ["content-length", "12"],
    ["authorization", "Bearer secret"],
    ["cookie", "c=1"],
    ["date", "today"],
  ]);
  // Only the two x-multi values were indexed (besides :authority); the rest stay literals.
  const again = Buffer.from(rt.enc.encode(headers, "http", "svc:80"));
  const block = [...again];
  // The table holds, newest first: x-multi b (62), x-multi a (63), :authority svc:80 (64).
  assert.deepEqual(block.slice(0, 6), [0x86, 0xc0, 0x82, 0x84, 0xbf, 0xbe], "pseudo-headers and x-multi as indexes");
  assert.deepEqual(block.slice(6, 11), [0x0f, 28 - 15, 2, 0x31, 0x32], "content-length: without indexing, static name");
  assert.deepEqual(block.slice(11, 13), [0x1f, 23 - 15], "authorization: never indexed, static name");
  rt.check(again);
  assert.deepEqual(rt.request({ ":method": "GET", ":path": "/", te: "trailers" }).fields.at(-1), ["te", "trailers"]);
  const resp = rt.response({ ":status": 200, te: "trailers", connection: "x", "grpc-status": "0" });
  assert.deepEqual(resp.fields, [
    [":status", "200"],
    ["grpc-status", "0"],
  ]);
  assert.deepEqual(rt.response({ "grpc-status": "0", "grpc-message": "" }).fields, [
    ["grpc-status", "0"],
    ["grpc-message", ""],
  ]);
});

void test("encoder: a table size change is signalled at the start of the next block, the minimum first", () => {
  const rt = new RoundTrip();
  rt.request(GRPC_REQUEST);
  rt.enc.setMaxTableSize(0);
  let block = Buffer.from(rt.enc.encode(GRPC_REQUEST, "http", "svc:80"));
  assert.equal(block[0], 0x20, "size update to 0");
  rt.check(block);
  // With no table, nothing is indexed: the next block is as long, less the size update.
  assert.equal(rt.request(GRPC_REQUEST).bytes, block.length - 1);
  rt.enc.setMaxTableSize(100);
  rt.enc.setMaxTableSize(50000);
  block = Buffer.from(rt.enc.encode(GRPC_REQUEST, "http", "svc:80"));
  // 100 then 4096 (the encoder stays at 4096 when the peer offers more).
  assert.deepEqual([...block.subarray(0, 5)], [0x3f, 100 - 31, 0x3f, 0xe1, 0x1f]);
  rt.check(block);
  assert.equal(rt.request(GRPC_REQUEST).fields.length, 10);
  rt.enc.setMaxTableSize(4096);
  rt.enc.setMaxTableSize(300);
  block = Buffer.from(rt.enc.encode(GRPC_REQUEST, "http", "svc:80"));
  assert.deepEqual([...block.subarray(0, 3)], [0x3f, 0x8d, 0x02], "one update, to 300");
});

void test("encoder: eviction keeps both decoders in step over many blocks (random headers and table sizes)", () => {
  const name = fc.constantFrom("x-a", "x-b", "x-c", "content-type", "accept", "user-agent", "x-long-header-name-for-eviction", "cookie", "date");
  const value = fc.oneof(fc.constantFrom("", "v", "application/grpc"), fc.string({ maxLength: 40 }), fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 300 }));
  const block = fc.record({
    headers: fc.array(fc.tuple(name, value), { maxLength: 12 }),
    resize: fc.option(fc.integer({ min: 0, max: 5000 }), { freq: 6 }),
    response: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(block, { minLength: 1, maxLength: 30 }), (blocks) => {
      const rt = new RoundTrip();
      for (const b of blocks) {
        if (b.resize !== null) rt.enc.setMaxTableSize(b.resize);
        const headers: Record<string, string[]> = {};
        for (const [n, v] of b.headers) (headers[n] ??= []).push(v);
        const expected = Object.entries(headers).flatMap(([n, vs]) => vs.map((v): Field => [n, v]));
        if (b.response) assert.deepEqual(rt.response({ ":status": "200", ...headers }).fields, [[":status", "200"], ...expected]);
        else assert.deepEqual(rt.request({ ":method": "GET", ":path": "/", ...headers }).fields.slice(4), expected);
      }
    }),
    { numRuns: 200 },
  );
});

void test("encoder: a value larger than the table is sent without indexing, and the table survives", () => {
  const rt = new RoundTrip();
  rt.request(GRPC_REQUEST);
  const indexed = rt.request(GRPC_REQUEST).bytes;
  const big = "z".repeat(5000);
  assert.deepEqual(rt.response({ ":status": "200", "x-big": big }).fields[1], ["x-big", big]);
  // The earlier entries are still indexed: the next request is as short as before.
  assert.equal(rt.request(GRPC_REQUEST).bytes, indexed);
  // The encoder's buffer grew for the big block; later blocks are views of the new buffer.
  assert.deepEqual(rt.response({ ":status": "204" }).fields, [[":status", "204"]]);
});
