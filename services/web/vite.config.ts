import { defineConfig } from 'vite';

// Run as `vite build services/web`: the root (and so `dist/`) is this folder.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
});
