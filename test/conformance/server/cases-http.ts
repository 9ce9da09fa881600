import type { ServerCase } from "./server-kit.js";

export const HTTP_CASES: readonly ServerCase[] = [];
