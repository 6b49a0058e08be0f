// `npm run bench` end to end, tiny: one scenario, one run of very few records, into a temp dir — the
// files it writes and their shape, the usage errors, and the summary's corpus. Never how fast (CONVENTIONS.md §5).
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../lib/launch.ts';
import type { BenchReport } from './report.ts';
import { peakRssMb, SERVER_PEAK_RSS } from './rss.ts';
import { corpusRecords } from './summary.ts';
import { syslogCorpus } from './syslog.ts';

/** VmHWM is Linux's (/proc); elsewhere the figure is left out and shows as "–". */
const hasProc = existsSync('/proc/self/status');

const bench = (args: string[]) =>
  execa(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/bench.ts'), ...args], {
    cwd: REPO_ROOT,
    reject: false,
    timeout: 60_000,
  });

describe('npm run bench (smoke)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('day08, 2,000 records, 1 run, --quick: md/json/svg for the run and the scenario under <out>/quick/, a history copy', async () => {
    const out = await mkdtemp(join(os.tmpdir(), 'bench-smoke-'));
    dirs.push(out);
    const r = await bench(['day08', '--quick', '--runs', '1', '--records', '2000', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('### day08:');
    const q = join(out, 'quick');
    for (const base of ['latest', 'day08'])
      for (const ext of ['md', 'json', 'svg'])
        expect(existsSync(join(q, `${base}.${ext}`)), `${base}.${ext}`).toBe(true);
    // a --quick run never overwrites the real figures
    expect(existsSync(join(out, 'latest.json'))).toBe(false);
    expect(readdirSync(join(q, 'history')).some((f) => /^\d{4}-\d\d-\d\dT\d{6}Z-day08\.json$/.test(f))).toBe(true);
    const rep = JSON.parse(await readFile(join(q, 'latest.json'), 'utf8')) as BenchReport;
    expect(rep.quick).toBe(true);
    expect(rep.machine.cores).toBeGreaterThan(0);
    expect(rep.machine.node).toBe(process.version);
    expect(rep.scenarios).toHaveLength(1);
    const s = rep.scenarios[0]!;
    expect(s).toMatchObject({ scenario: 'day08', runs: 1, records: 2000 });
    expect(s.recordBytes).toBeGreaterThan(50);
    expect(s.rows.length).toBeGreaterThanOrEqual(3);
    for (const row of s.rows) {
      expect(row.runs, row.contender).toBe(1);
      expect(row.recordsPerSec, row.contender).toBeGreaterThan(0);
    }
    // the receiver rows report the receiver's peak RSS (issue 21.6; where /proc exists)
    const receiverRows = s.rows.filter((x) => x.contender.startsWith('day08 receiver ('));
    expect(receiverRows.length).toBe(2);
    if (hasProc)
      for (const row of receiverRows) expect(row.extraMedian[SERVER_PEAK_RSS], row.contender).toBeGreaterThan(0);
    expect(await readFile(join(q, 'latest.svg'), 'utf8')).toMatch(/^<svg[\s\S]*day08[\s\S]*<\/svg>$/);
    expect(await readFile(join(q, 'latest.md'), 'utf8')).toMatch(/^# LogStream Lab benchmark \(--quick/);
  });

  it('an unknown scenario or a bad flag value exits 2 naming it; --list exits 0', async () => {
    const [bad, badRuns, list] = await Promise.all([
      bench(['day99']),
      bench(['day08', '--runs', 'x']),
      bench(['--list']),
    ]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('day99');
    expect(badRuns.exitCode).toBe(2);
    expect(badRuns.stderr).toContain('--runs');
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(/^ {2}all /m);
    expect(list.stdout).toMatch(/^ {2}udp-loss /m);
  });

  it.skipIf(!hasProc)(
    'peakRssMb reads VmHWM: a number for this process, undefined for a pid that does not exist',
    () => {
      expect(peakRssMb(process.pid)).toBeGreaterThan(0);
      // above the largest pid_max Linux allows (2^22): never a live process
      expect(peakRssMb(2 ** 22 + 1)).toBeUndefined();
    },
  );

  it("the summary's records are the syslog corpus's messages, in order, one each", () => {
    const { chunks } = syslogCorpus(500, 7, 4096);
    const lines = corpusRecords(chunks, 500);
    expect(lines).toHaveLength(500);
    expect(
      (JSON.parse(lines[41]!) as { attrs: { sd: Record<string, { id: string }> } }).attrs.sd['req@32473']!.id,
    ).toBe('s7-42');
    expect(() => corpusRecords(chunks, 501)).toThrow(/500 records for 501/);
  });
});
