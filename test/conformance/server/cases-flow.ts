import type { ServerCase } from "./server-kit.js";

export const FLOW_CASES: readonly ServerCase[] = [];
