// Each check can fail (GUIDE §3): every fixture (a named defect patched into a copy of the reference
// lesson) fails exactly the checks it lists, and every check is failed by at least one fixture.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Fixture } from './harness/fixtures.ts';
import { materializeFixture } from './harness/fixtures.ts';
import { failureBlock } from './harness/report.ts';
import { REPO_ROOT, knownLessons, loadManifest, runChecks } from './harness/runner.ts';

const seed = Number(process.env['CHECKS_SEED'] ?? 20261126);
const here = path.dirname(new URL(import.meta.url).pathname);

for (const lesson of knownLessons()) {
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
        const results = await runChecks({ lessonsRoot, lesson, seed, stopOnFirstFailure: false });
        const failed = results.filter((r) => r.status === 'failed').map((r) => r.id);
        const unexpected = results.filter((r) => r.status === 'failed' && !fixture.mustFail.includes(r.id));
        const detail = unexpected.map((r) => `\n${r.id}:\n${failureBlock(r)}`).join('');
        expect([...failed].sort(), `checks failed by ${lessonsRoot}${detail}`).toEqual([...fixture.mustFail].sort());
      }, 240_000);
    }
  });
}
