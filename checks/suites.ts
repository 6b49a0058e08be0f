// The two suites every day gets (GUIDE §3), one test file per day so vitest runs days in parallel:
//   referenceSuite: every check passes against the reference lesson (lessons/dayNN);
//   fixtureSuite:   every fixture (a named defect patched into a copy of the reference) fails exactly the
//                   checks it lists, and every check is failed by at least one fixture.
// CHECKS_LESSONS_ROOT points the reference suite at another lessons root; CHECKS_SEED replays a seed.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Fixture } from './harness/fixtures.ts';
import { materializeFixture } from './harness/fixtures.ts';
import { failureBlock } from './harness/report.ts';
import { REPO_ROOT, loadManifest, runChecks } from './harness/runner.ts';

const seed = Number(process.env['CHECKS_SEED'] ?? 20261126);
const here = path.dirname(new URL(import.meta.url).pathname);
/** checks run at once inside one fixture run (CHECKS_CONCURRENCY); `exclusive` checks still run alone */
const CONCURRENCY = Number(process.env['CHECKS_CONCURRENCY'] ?? 3);

export async function referenceSuite(lesson: string): Promise<void> {
  const lessonsRoot = process.env['CHECKS_LESSONS_ROOT'] ?? path.join(REPO_ROOT, 'lessons');
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

export async function fixtureSuite(lesson: string): Promise<void> {
  const manifest = await loadManifest(lesson);
  const ids = manifest.checks.map((c) => c.id);
  const file = path.join(here, 'fixtures', `${lesson}.ts`);

  describe(`${lesson} fixtures`, async () => {
    it('exist, with unique names, naming real checks, covering every check', async () => {
      expect(existsSync(file), `${file} exists`).toBe(true);
      const { fixtures } = (await import(file)) as { fixtures: Fixture[] };
      const names = fixtures.map((f) => f.name);
      expect(new Set(names).size).toBe(names.length);
      for (const f of fixtures) {
        expect(f.mustFail.length, `${f.name} fails something`).toBeGreaterThan(0);
        expect(f.mustFail.filter((id) => !ids.includes(id)), `${f.name}: unknown ids`).toEqual([]);
      }
      const covered = new Set(fixtures.flatMap((f) => f.mustFail));
      expect(ids.filter((id) => !covered.has(id)), 'checks no fixture fails').toEqual([]);
    });

    const { fixtures } = existsSync(file) ? ((await import(file)) as { fixtures: Fixture[] }) : { fixtures: [] };
    for (const fixture of fixtures) {
      it(`${fixture.name}: ${fixture.description} → fails exactly ${fixture.mustFail.join(', ')}`, async () => {
        const lessonsRoot = await materializeFixture({ repoRoot: REPO_ROOT, lesson, fixture });
        const results = await runChecks({ lessonsRoot, lesson, seed, stopOnFirstFailure: false, concurrency: CONCURRENCY });
        const failed = results.filter((r) => r.status === 'failed').map((r) => r.id);
        const unexpected = results.filter((r) => r.status === 'failed' && !fixture.mustFail.includes(r.id));
        const detail = unexpected.map((r) => `\n${r.id}:\n${failureBlock(r)}`).join('');
        expect([...failed].sort(), `checks failed by ${lessonsRoot}${detail}`).toEqual([...fixture.mustFail].sort());
      }, 240_000);
    }
  });
}
