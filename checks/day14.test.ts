// day14: the reference passes every check, and every fixture fails exactly the checks it names.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPORT_FIELDS } from './day14.ts';
import { REPO_ROOT } from './harness/runner.ts';
import { fixtureSuite, referenceSuite } from './suites.ts';

describe('day14: the README documents every --json field the check [d14.5] asks for', () => {
  it('each field appears as `name` in the README', () => {
    const readme = readFileSync(
      path.join(process.env['CHECKS_LESSONS_ROOT'] ?? path.join(REPO_ROOT, 'lessons'), 'day14', 'README.md'),
      'utf8',
    );
    const missing = REPORT_FIELDS.map(([f]) => f.replace('.*.', '[].')).filter((f) => !readme.includes(`\`${f}\``));
    expect(missing).toEqual([]);
  });
});

await referenceSuite('day14');
await fixtureSuite('day14');
