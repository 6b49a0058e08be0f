// The starter copy: solution regions become stubs, the copy runs, and it fails exactly the kind of
// checks its TODOs name (while the reference passes them all).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownLessons, loadManifest, runChecks } from '../checks/harness/runner.ts';
import { main, writeStarter } from './starter.ts';

const seed = Number(process.env['CHECKS_SEED'] ?? 20261126);
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'starter-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// Starter copies exist for the days (lessons/dayNN, with @solution regions); the capstone-level lessons
// (stack, scale) are graded on the reference's whole system and have none.
for (const lesson of knownLessons().filter((l) => /^day\d+$/.test(l))) {
  describe(`starter ${lesson}`, () => {
    // The reference passing every check is proven by checks/<day>.test.ts (referenceSuite); here we
    // prove the other half: the starter copy fails every check its TODOs name.
    it('the starter copy fails every check its TODOs name', async () => {
      const manifest = await loadManifest(lesson);

      const out = path.join(tmp, lesson);
      const starter = await writeStarter({ lesson, out });
      expect(starter.regions.length, 'solution regions in the lesson').toBeGreaterThan(0);
      const named = [...new Set(starter.regions.flatMap((r) => r.ids))].sort();
      expect(named.filter((id) => !manifest.checks.some((c) => c.id === id)), 'TODOs naming unknown check ids').toEqual([]);
      for (const f of readdirSync(starter.lessonDir).filter((f) => f.endsWith('.ts'))) {
        const text = readFileSync(path.join(starter.lessonDir, f), 'utf8');
        expect(text, f).not.toMatch(/@solution|@end-solution|@stub/);
      }
      expect(existsSync(path.join(out, 'shared'))).toBe(true);
      expect(existsSync(path.join(out, 'node_modules'))).toBe(true);

      const results = await runChecks({ lessonsRoot: starter.lessonsRoot, lesson, seed, stopOnFirstFailure: false, only: named, concurrency: 3 });
      const failed = results.filter((r) => r.status === 'failed').map((r) => r.id);
      expect(failed.length).toBeGreaterThan(0);
      expect(named.filter((id) => !failed.includes(id)), 'checks named by a TODO that the starter still passes').toEqual([]);
    }, 300_000);
  });
}

describe('starter CLI', () => {
  it('exit codes: 0 written, 2 for an unknown lesson or a missing --out', async () => {
    const lesson = knownLessons()[0] as string;
    expect(await main([lesson, '--out', path.join(tmp, 'cli')])).toBe(0);
    expect(existsSync(path.join(tmp, 'cli', 'lessons', lesson))).toBe(true);
    expect(await main(['day99', '--out', path.join(tmp, 'cli2')])).toBe(2);
    expect(await main([lesson])).toBe(2);
  });
});
