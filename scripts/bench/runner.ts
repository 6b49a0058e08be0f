/**
 * Runs one scenario (CONVENTIONS.md §5): setup once, then `runs` rounds in which every contender runs once, the
 * order alternating (forward, then reversed) so warm caches and background noise fall on every contender;
 * a contender that cannot run here (`unavailable`) is skipped with its reason, one that fails a run is
 * counted and the others carry on. Returns the scenario's report (report.ts); prints progress on stderr.
 */
import { fmtNum, summarise, summariseRuns, withRatios, type RunSample, type ScenarioReport } from './report.ts';
import type { Contender, Scenario } from './types.ts';

export interface RunOptions {
  runs: number;
  records: number;
  log?: (line: string) => void;
}

export async function runScenario(
  name: string,
  scenario: Scenario,
  opts: RunOptions,
): Promise<ScenarioReport & { failed: boolean }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const skipped = new Map<string, string>();
  for (const c of scenario.contenders) {
    const why = c.unavailable?.();
    if (why) skipped.set(c.name, why);
  }
  const active = scenario.contenders.filter((c) => !skipped.has(c.name));
  const ctx = await scenario.setup({ records: opts.records });
  log(
    `\n== ${name}: ${scenario.title} (${opts.runs} runs, ${opts.records.toLocaleString('en-US')} records, ~${ctx.recordBytes} B/record)`,
  );
  for (const [c, why] of skipped) log(`  skipped ${c}: ${why}`);
  const samples = new Map<string, RunSample[]>(active.map((c) => [c.name, []]));
  const failures = new Map<string, number>();
  let failed = false;
  try {
    for (let run = 0; run < opts.runs; run++) {
      const order: Contender[] = run % 2 ? [...active].reverse() : active;
      for (const c of order) {
        try {
          const r = await c.run(ctx);
          samples.get(c.name)!.push(r);
          log(
            `  run ${run + 1} ${c.name.padEnd(44)} ${fmtNum(r.ms > 0 ? r.records / (r.ms / 1000) : 0).padStart(11)} records/s ${fmtNum(r.ms > 0 ? r.bytes / r.ms / 1000 : 0).padStart(8)} MB/s${r.note ? `  ${r.note}` : ''}`,
          );
        } catch (err) {
          failed = true;
          failures.set(c.name, (failures.get(c.name) ?? 0) + 1);
          log(`  run ${run + 1} ${c.name}: FAILED ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    await ctx.teardown?.();
  }
  const rows = active.map((c) =>
    summariseRuns(c.name, samples.get(c.name)!, failures.get(c.name) ?? 0, {
      role: c.role,
      lossy: c.lossy,
      ownInput: c.ownInput,
    }),
  );
  const { rows: withRatio, baseline } = withRatios(rows, scenario.baseline);
  const hasRoles = active.some((c) => c.role);
  const skippedNote = skipped.size
    ? ` Skipped here: ${[...skipped].map(([c, why]) => `${c} (${why})`).join('; ')}.`
    : '';
  return {
    scenario: name,
    title: scenario.title,
    runs: opts.runs,
    records: opts.records,
    recordBytes: ctx.recordBytes,
    baseline,
    notes: `${scenario.notes ?? ''}${skippedNote}`.trim(),
    rows: withRatio,
    ...(hasRoles ? { summary: summarise(withRatio) } : {}),
    ...(scenario.chart ? { chart: scenario.chart } : {}),
    ...(scenario.figures ? { figures: scenario.figures } : {}),
    failed,
  };
}
