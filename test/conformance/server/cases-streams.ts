import type { ServerCase } from "./server-kit.js";

export const STREAM_CASES: readonly ServerCase[] = [];
