import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // a scratch graph cache per test file (BLIPLINE_CACHE_DIR), never the repository's
    setupFiles: ['test/support/graph-cache.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
