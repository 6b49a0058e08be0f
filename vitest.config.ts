import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'shared/**/*.test.ts',
      'lessons/**/*.test.ts',
      'scripts/**/*.test.ts',
      'checks/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    // tests/heavy/: the long races and kill-point runs, `npm run test:heavy` (vitest.heavy.config.ts)
    exclude: ['**/node_modules/**', '.work/**', 'tests/heavy/**'],
    // Checks start real processes and sockets: two files at a time on a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    coverage: {
      provider: 'v8',
      include: ['shared/**/*.ts', 'lessons/**/*.ts', 'scripts/**/*.ts', 'checks/**/*.ts'],
      exclude: ['**/*.test.ts'],
      reporter: ['text-summary', 'html'],
    },
  },
});
