/**
 * node:http, loaded through require instead of an ESM import.
 *
 * Node builds the ESM namespace of a builtin by reading every export, and node:http's `WebSocket`,
 * `MessageEvent` and `CloseEvent` are lazy getters that load undici (a 750 KB bundle, compiled on
 * load): `import * as http from "node:http"` costs a bare process ~13 MiB of RSS, the sidecar ~1.3 MiB
 * of heap and 2–3 MiB of RSS, for classes it never uses. require() returns the CommonJS exports object and leaves the getters untouched.
 * docs/performance.md, "Memory at idle".
 */
import { createRequire } from "node:module";
import type * as NodeHttp from "node:http";

/** The node:http module. */
export const http: typeof NodeHttp = createRequire(import.meta.url)("node:http") as typeof NodeHttp;
