import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// In production the Promptline server serves web/dist at the API's own origin.
// In `vite dev` / `vite preview` the API calls are proxied there instead, so the
// app never needs to know a second origin. PROMPTLINE_API points at another server.
const api = process.env.PROMPTLINE_API ?? "http://127.0.0.1:8080";
const proxy = {
  "/promptline.v1.": { target: api, changeOrigin: true },
  "/healthz": { target: api, changeOrigin: true },
  "/readyz": { target: api, changeOrigin: true },
};

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    rolldownOptions: {
      output: {
        // Libraries change less often than the app: separate chunks stay cached across deploys.
        codeSplitting: {
          groups: [
            {
              name: "react",
              test: /node_modules[\\/](react|react-dom|scheduler|react-router)[\\/]/,
            },
            { name: "rpc", test: /node_modules[\\/](@bufbuild|@connectrpc|@tanstack)[\\/]/ },
          ],
        },
      },
    },
  },
  server: { proxy },
  preview: { proxy },
});
