import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const page = (name: string) => fileURLToPath(new URL(name, import.meta.url));

// Run as `vite build services/web`: the root (and so `dist/`) is this folder.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The upload page and the API reference (Swagger UI over GET /v1/openapi.json).
    rollupOptions: { input: { main: page('index.html'), reference: page('reference.html') } },
    // Swagger UI is one ~1.4 MB chunk, loaded by the reference page only.
    chunkSizeWarningLimit: 1600,
  },
});
