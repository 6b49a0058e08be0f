// Every check of every day passes against the reference lessons (lessons/dayNN).
// CHECKS_LESSONS_ROOT points this at another lessons root; CHECKS_SEED replays a seed.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { failureBlock } from './harness/report.ts';
import { REPO_ROOT, knownLessons, loadManifest, runChecks } from './harness/runner.ts';

const lessonsRoot = process.env['CHECKS_LESSONS_ROOT'] ?? path.join(REPO_ROOT, 'lessons');
const seed = Number(process.env['CHECKS_SEED'] ?? 20261126);

for (const lesson of knownLessons()) {
  const manifest = await loadManifest(lesson);
  const day = /^day(\d+)$/.exec(lesson)?.[1];

  describe(`${lesson}: the manifest`, () => {
    it('ids are unique, numbered dNN.1.., points sum to 100', () => {
      expect(manifest.lesson).toBe(lesson);
      expect(manifest.checks.map((c) => c.id)).toEqual(manifest.checks.map((_, i) => `d${day}.${i + 1}`));
      expect(manifest.checks.reduce((n, c) => n + c.points, 0)).toBe(100);
      for (const c of manifest.checks) {
        expect(c.title.length).toBeGreaterThan(0);
        expect(c.timeoutMs).toBeGreaterThan(0);
      }
    });

    it("every check id is a numbered requirement of the lesson's README", () => {
      const readme = path.join(lessonsRoot, lesson, 'README.md');
      expect(existsSync(readme), `${readme} exists`).toBe(true);
      const text = readFileSync(readme, 'utf8');
      const missing = manifest.checks.filter((c) => !text.includes(`[${c.id}]`)).map((c) => c.id);
      expect(missing, `ids not found as [dNN.k] in ${readme}`).toEqual([]);
    });
  });

  describe(`${lesson}: the reference passes every check (seed ${seed})`, () => {
    for (const check of manifest.checks) {
      it(`${check.id} ${check.title}`, async () => {
        const [r] = await runChecks({ lessonsRoot, lesson, seed, stopOnFirstFailure: true, only: [check.id] });
        expect(r?.status, r ? `\n${failureBlock(r)}` : 'no result').toBe('passed');
      }, check.timeoutMs + 15_000);
    }
  });
}
