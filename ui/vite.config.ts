// The dashboard bundle: `vite build --config ui/vite.config.ts` (part of `npm run build`) writes
// dist/ui/, which the discovery server's admin port serves at /ui (src/control-plane/ui-server.ts).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/** A path next to this file (no Node types needed: ui/ is typed for the browser). */
const here = (rel: string): string => decodeURIComponent(new URL(rel, import.meta.url).pathname);

export default defineConfig({
  root: here("."),
  base: "/ui/",
  plugins: [react()],
  build: {
    outDir: here("../dist/ui"),
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    // `npx vite --config ui/vite.config.ts` with a discovery server on the default admin port.
    proxy: { "/ui/api": "http://127.0.0.1:18001" },
  },
});
