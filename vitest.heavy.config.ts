// `npm run test:heavy`: tests/heavy/*.test.ts only — the suites too long for every `npm test` (100 lock
// races between processes, a real receiver killed at each named fault point and restarted, a real
// receiver under 300 partial 4 MiB frames and a million HELLO stream ids: tests/heavy/bounded-memory). Same
// settings as vitest.config.ts otherwise; CI runs it after npm test (.ci/run).
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['tests/heavy/**/*.test.ts'],
    exclude: ['**/node_modules/**', '.work/**'],
  },
});
