import type { ServerCase } from "./server-kit.js";

export const HPACK_CASES: readonly ServerCase[] = [];
