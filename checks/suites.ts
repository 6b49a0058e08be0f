// The two suites every day gets (CONVENTIONS.md §3), one test file per day so vitest runs days in parallel:
//   referenceSuite: every check passes against the reference lesson (lessons/dayNN);
//   fixtureSuite:   every fixture (a named defect patched into a copy of the reference) fails the checks
//                   it lists, and every check is failed by at least one fixture.
// Which checks a fixture run includes (CHECKS_FIXTURES):
//   named    (default, what npm test runs) only the checks the fixture must fail: each must fail. This
//            is the property that matters (every check can fail) at a fraction of the time.
//   affected the named checks plus every other check the fixture can affect, which must all pass: the
//            fixture fails exactly what it names. A check that ran none of the patched files (nor
//            anything they import) in this process's reference run saw byte-identical programs with the
//            same seed, so its verdict is the reference's and it is skipped (for lessons that opt in with
//            skipUnaffected: their checks start every program through ctx.programFile).
//   all      every check, every fixture (the slowest; CHECKS_FIXTURES_FULL=1 means the same).
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
const FIXTURE_MODES = ['named', 'affected', 'all'] as const;
type FixtureMode = (typeof FIXTURE_MODES)[number];
const FIXTURE_MODE: FixtureMode =
  process.env['CHECKS_FIXTURES_FULL'] === '1' ? 'all' : ((process.env['CHECKS_FIXTURES'] ?? 'named') as FixtureMode);
if (!FIXTURE_MODES.includes(FIXTURE_MODE))
  throw new Error(`CHECKS_FIXTURES=${FIXTURE_MODE}: expected one of ${FIXTURE_MODES.join(', ')}`);

/** What the reference run in this process saw, per lesson and check id: did it pass, which programs it ran. */
const referenceRuns = new Map<string, Map<string, { passed: boolean; programs: string[] }>>();

/** The lesson files a set of programs consists of: the programs and every file they import from their own folder. */
export function programClosure(lessonDir: string, programs: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (rel: string) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const file = path.join(lessonDir, rel);
    if (!existsSync(file)) return;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\(\s*)['"]\.\/([^'"]+)['"]/g)) visit(path.normalize(m[1]!));
  };
  for (const p of programs) visit(p);
  return seen;
}

export interface FixtureSuiteOptions {
  /** Run only the checks a fixture can affect (see the header). Needs every check to start programs via ctx.programFile. */
  skipUnaffected?: boolean;
  /** per-fixture test timeout (default 240 s): a lesson whose checks start clusters needs more */
  timeoutMs?: number;
}

export async function referenceSuite(lesson: string): Promise<void> {
  const lessonsRoot = process.env['CHECKS_LESSONS_ROOT'] ?? path.join(REPO_ROOT, 'lessons');
  const manifest = await loadManifest(lesson);
  // a day's ids are dNN.k; a lesson that is not a day (stack, scale) numbers its own: stack.k
  const day = /^day(\d+)$/.exec(lesson)?.[1];
  const prefix = day ? `d${day}` : lesson;

  describe(`${lesson}: the manifest`, () => {
    it(`ids are unique, numbered ${prefix}.1.., points sum to 100, given checks have 0`, () => {
      expect(manifest.lesson).toBe(lesson);
      expect(manifest.checks.map((c) => c.id)).toEqual(manifest.checks.map((_, i) => `${prefix}.${i + 1}`));
      expect(manifest.checks.reduce((n, c) => n + c.points, 0)).toBe(100);
      for (const c of manifest.checks) {
        expect(c.title.length).toBeGreaterThan(0);
        expect(c.timeoutMs).toBeGreaterThan(0);
        // a given check (no TODO asks for it) is shown, never earned (issue 16, goal 3)
        if (c.given) expect(c.points, `${c.id} is given: 0 points`).toBe(0);
      }
    });

    it("every check id is a numbered requirement of the lesson's README", () => {
      const readme = path.join(lessonsRoot, lesson, 'README.md');
      expect(existsSync(readme), `${readme} exists`).toBe(true);
      const text = readFileSync(readme, 'utf8');
      const missing = manifest.checks.filter((c) => !text.includes(`[${c.id}]`)).map((c) => c.id);
      expect(missing, `ids not found as [${prefix}.k] in ${readme}`).toEqual([]);
    });
  });

  describe(`${lesson}: the reference passes every check (seed ${seed})`, () => {
    for (const check of manifest.checks) {
      it(
        `${check.id} ${check.title}`,
        async () => {
          const [r] = await runChecks({ lessonsRoot, lesson, seed, stopOnFirstFailure: true, only: [check.id] });
          if (r && lessonsRoot === path.join(REPO_ROOT, 'lessons')) {
            const runs = referenceRuns.get(lesson) ?? new Map<string, { passed: boolean; programs: string[] }>();
            runs.set(check.id, { passed: r.status === 'passed', programs: r.programs ?? [] });
            referenceRuns.set(lesson, runs);
          }
          expect(r?.status, r ? `\n${failureBlock(r)}` : 'no result').toBe('passed');
        },
        check.timeoutMs + 15_000,
      );
    }
  });
}

export async function fixtureSuite(lesson: string, options: FixtureSuiteOptions = {}): Promise<void> {
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
        expect(
          f.mustFail.filter((id) => !ids.includes(id)),
          `${f.name}: unknown ids`,
        ).toEqual([]);
      }
      const covered = new Set(fixtures.flatMap((f) => f.mustFail));
      expect(
        ids.filter((id) => !covered.has(id)),
        'checks no fixture fails',
      ).toEqual([]);
    });

    const { fixtures } = existsSync(file) ? ((await import(file)) as { fixtures: Fixture[] }) : { fixtures: [] };
    for (const fixture of fixtures) {
      it(
        `${fixture.name}: ${fixture.description} → fails exactly ${fixture.mustFail.join(', ')}`,
        async () => {
          const lessonsRoot = await materializeFixture({ repoRoot: REPO_ROOT, lesson, fixture });
          const affected = options.skipUnaffected ? affectedChecks(lesson, ids, fixture) : ids;
          const claimed = fixture.mustFail.filter((id) => !affected.includes(id));
          expect(claimed, `${fixture.name} names checks that run none of the files it patches`).toEqual([]);
          const only =
            FIXTURE_MODE === 'named'
              ? ids.filter((id) => fixture.mustFail.includes(id))
              : FIXTURE_MODE === 'affected'
                ? affected
                : ids;
          const results = await runChecks({
            lessonsRoot,
            lesson,
            seed,
            stopOnFirstFailure: false,
            concurrency: CONCURRENCY,
            only,
          });
          const failed = results.filter((r) => r.status === 'failed').map((r) => r.id);
          const unexpected = results.filter((r) => r.status === 'failed' && !fixture.mustFail.includes(r.id));
          const detail = unexpected.map((r) => `\n${r.id}:\n${failureBlock(r)}`).join('');
          expect([...failed].sort(), `checks failed by ${lessonsRoot}${detail}`).toEqual([...fixture.mustFail].sort());
        },
        options.timeoutMs ?? 240_000,
      );
    }
  });
}

/**
 * The checks a fixture can affect: those whose reference run (in this process) ran a patched file, or
 * that have no passing reference run to go by. The others ran byte-identical programs with the same seed.
 */
function affectedChecks(lesson: string, ids: readonly string[], fixture: Fixture): string[] {
  const runs = referenceRuns.get(lesson);
  const patched = new Set(fixture.patches.map((p) => path.normalize(p.file)));
  // Only program sources are followed; a patch elsewhere (a README, a config) may be read by any check.
  if (!runs || [...patched].some((f) => !f.endsWith('.ts'))) return [...ids];
  const lessonDir = path.join(REPO_ROOT, 'lessons', lesson);
  return ids.filter((id) => {
    const ref = runs.get(id);
    if (!ref?.passed) return true;
    const deps = programClosure(lessonDir, ref.programs);
    return [...patched].some((f) => deps.has(f));
  });
}
