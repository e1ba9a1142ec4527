import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 120_000,
    // UI tests must not see CI (Ink renders differently when CI is set).
    setupFiles: ['test/setup.ts'],
    // Brings the lab (test/lab) up when the run includes an end-to-end test, and down after.
    globalSetup: ['test/lab/global-setup.ts'],
    pool: 'forks',
  },
});
