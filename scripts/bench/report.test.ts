// The benchmark's arithmetic and output (report.ts, chart.ts): medians, ratios, the summary figures,
// and the shape of the markdown, JSON and SVG. Pure: no sockets, no timing (CONVENTIONS.md §5).
import { describe, expect, it } from 'vitest';
import { barLabel, chartSpec, renderSvg } from './chart.ts';
import {
  median,
  ratio,
  reportJson,
  reportMarkdown,
  scenarioMarkdown,
  summarise,
  summariseRuns,
  withRatios,
  type BenchReport,
  type Machine,
  type Row,
  type ScenarioReport,
} from './report.ts';
import { RSS_FIGURE, SERVER_PEAK_RSS } from './rss.ts';

const machine: Machine = {
  cpu: 'Test CPU 9000',
  cores: 2,
  memGiB: 8,
  node: 'v20.0.0',
  os: 'Linux test x64',
  date: '2026-11-26T18:00:00.000Z',
};
/** a run of `records` records in `ms`, with bytes = 100 per record */
const run = (records: number, ms: number, extra: Record<string, unknown> = {}) => ({
  records,
  bytes: records * 100,
  ms,
  extra,
});

function row(contender: string, recordsPerSec: number, meta: Partial<Row> = {}): Row {
  return { ...summariseRuns(contender, [run(recordsPerSec, 1000)]), ...meta };
}

describe('median and ratio', () => {
  it.each([
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10, 10, 1000], 10],
  ])('median(%j) = %d', (xs, m) => expect(median(xs)).toBe(m));

  it('median of nothing is NaN, and the input is not reordered', () => {
    expect(median([])).toBeNaN();
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });

  it('ratio is null when the base is zero or not a number', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNull();
    expect(ratio(NaN, 2)).toBeNull();
  });
});

describe('summariseRuns / withRatios', () => {
  it('takes the median, min and max of records/s and MB/s over the runs', () => {
    // 1000 records in 1 s, 0.5 s and 2 s: 1000, 2000, 500 records/s
    const r = summariseRuns(
      'a',
      [run(1000, 1000, { lossPct: 1 }), run(1000, 500, { lossPct: 3 }), run(1000, 2000, { lossPct: 2, only: 'x' })],
      1,
    );
    expect(r.recordsPerSec).toBe(1000);
    expect([r.min, r.max]).toEqual([500, 2000]);
    expect(r.mbPerSec).toBe(0.1); // 100 kB per second
    expect(r.runs).toBe(3);
    expect(r.failures).toBe(1);
    expect(r.samples).toEqual([1000, 2000, 500]);
    expect(r.extraMedian).toEqual({ lossPct: 2 });
    expect(r.extra).toEqual({ lossPct: 2, only: 'x' });
  });

  it('a contender whose every run failed has zero runs and zero rates', () => {
    const r = summariseRuns('dead', [], 3);
    expect(r).toMatchObject({ runs: 0, failures: 3, recordsPerSec: 0, min: 0, max: 0 });
  });

  it('ratios are against the named baseline, or the first row when it is missing', () => {
    const rows = [row('a', 100), row('b', 200), row('c', 50)];
    expect(withRatios(rows, 'b').rows.map((r) => r.ratio)).toEqual([0.5, 1, 0.25]);
    const fallback = withRatios(rows, 'nope');
    expect(fallback.baseline).toBe('a');
    expect(fallback.rows.map((r) => r.ratio)).toEqual([1, 2, 0.5]);
  });
});

describe('summarise (the issue #8 figures)', () => {
  const rows: Row[] = [
    row('ceiling', 1_000_000, { role: 'ceiling', mbPerSec: 200 }),
    row('fast lane', 400_000, { role: 'lane', mbPerSec: 80 }),
    row('udp', 900_000, { role: 'lane', lossy: true, mbPerSec: 150 }),
    row('syslog lane', 300_000, { role: 'syslog', mbPerSec: 45 }),
    row('loadgen lane, its own records', 800_000, { role: 'lane', ownInput: true, mbPerSec: 160 }),
    row('rsyslog', 250_000, { role: 'peer', mbPerSec: 37.5 }),
    row('loadgen', 2_500_000, { role: 'generator', mbPerSec: 500 }),
    row('in-process generator', 3_000_000, { role: 'generator' }),
    row('no role', 9_999_999),
    { ...row('failed lane', 0, { role: 'lane' }), runs: 0 },
  ];
  const s = summarise(rows);

  it('the best lane is the fastest that loses nothing on the shared input, compared with rsyslog', () => {
    expect(s.bestLane).toEqual({ contender: 'fast lane', recordsPerSec: 400_000, vsPeer: 1.6 });
    const own = s.lines.find((l) => l.contender === 'loadgen lane, its own records')!;
    expect(own).toMatchObject({ ownInput: true, vsPeer: null, ofCeiling: 0.8 });
    expect(s.syslog).toEqual({ contender: 'syslog lane', recordsPerSec: 300_000, vsPeer: 1.2 });
    expect(s.peer?.contender).toBe('rsyslog');
  });

  it('each lane as a fraction of the ceiling, in MB/s', () => {
    const of = Object.fromEntries(s.lines.map((l) => [l.contender, l.ofCeiling]));
    expect(of['ceiling']).toBe(1);
    expect(of['fast lane']).toBe(0.4);
    expect(of['syslog lane']).toBe(0.225);
    expect(of['loadgen']).toBeNull();
  });

  it('the generator figure is the first generator row; rows without a role or without runs are left out', () => {
    expect(s.generator).toEqual({ contender: 'loadgen', recordsPerSec: 2_500_000 });
    expect(s.lines.map((l) => l.contender)).not.toContain('no role');
    expect(s.lines.map((l) => l.contender)).not.toContain('failed lane');
  });

  it('without a peer or a ceiling the ratios are null, not a division by zero', () => {
    const t = summarise([row('lane', 10, { role: 'lane' })]);
    expect(t.bestLane?.vsPeer).toBeNull();
    expect(t.lines[0]!.ofCeiling).toBeNull();
    expect(t.peer).toBeNull();
    expect(t.ceiling).toBeNull();
  });
});

function scenario(over: Partial<ScenarioReport> = {}): ScenarioReport {
  const { rows, baseline } = withRatios(
    [
      row('ceiling', 1_000_000, { role: 'ceiling', mbPerSec: 200 }),
      row('lane | one', 400_000, { role: 'lane', mbPerSec: 80 }),
      row('rsyslog', 250_000, { role: 'peer', mbPerSec: 40 }),
    ],
    'rsyslog',
  );
  return {
    scenario: 'all',
    title: 'test summary',
    runs: 3,
    records: 300_000,
    recordBytes: 151,
    baseline,
    notes: 'Some notes.',
    rows,
    summary: summarise(rows),
    ...over,
  };
}
const report = (scenarios: ScenarioReport[]): BenchReport => ({
  machine,
  quick: false,
  command: 'npm run bench',
  scenarios,
});

describe('markdown and JSON', () => {
  it('the scenario table has a header, one line per contender, the machine, records, ratios and notes', () => {
    const md = scenarioMarkdown(scenario(), machine);
    const lines = md.split('\n');
    expect(lines[0]).toBe('### all: test summary');
    expect(md).toContain('3 runs alternating, 300,000 records of ~151 bytes');
    expect(md).toContain('Test CPU 9000');
    expect(md).toContain('8 GiB RAM');
    expect(md).toContain('Node v20.0.0');
    const header = lines.findIndex((l) => l.startsWith('| contender |'));
    expect(lines[header]).toContain('vs rsyslog');
    expect(lines[header + 1]).toBe('|---|---:|---:|---:|---:|');
    // the pipe in a contender's name is escaped, so the row keeps its 5 cells
    const laneRow = lines.find((l) => l.startsWith('| lane \\| one'))!;
    expect(laneRow.split(/(?<!\\)\|/).length - 2).toBe(5);
    expect(laneRow).toContain('400,000');
    expect(laneRow).toContain('1.60×');
    expect(md).toContain('#### Summary');
    expect(md).toContain('Our best lane: **lane | one**, 400,000 records/s = **1.60×** rsyslog');
    expect(md).toContain('| 40 % |'); // lane one: 80 of 200 MB/s
    expect(md).toContain('Generator alone: not measured');
    expect(md.trimEnd().endsWith('Some notes.')).toBe(true);
  });

  it("a summary scenario's figures (server peak RSS, issue 21.6) are a second table of medians; rows without it show –", () => {
    const rss = (mb: number) => ({ [SERVER_PEAK_RSS]: mb });
    const { rows } = withRatios(
      [
        {
          ...summariseRuns('lane one', [run(1000, 10, rss(120)), run(1000, 10, rss(131.4)), run(1000, 10, rss(125))]),
          role: 'lane',
        },
        { ...summariseRuns('rsyslog', [run(1000, 10, rss(12.5))]), role: 'peer' },
        { ...summariseRuns('generator', [run(1000, 10)]), role: 'generator' },
        { ...row('broken', 0), runs: 0, failures: 3 },
      ],
      'rsyslog',
    );
    const md = scenarioMarkdown(scenario({ rows, summary: summarise(rows), figures: RSS_FIGURE }), machine);
    const lines = md.split('\n');
    const header = lines.indexOf('| contender | server peak RSS (MiB) |');
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toBe('|---|---:|');
    expect(lines.slice(header + 2, header + 6)).toEqual([
      '| lane one | 125 |',
      '| rsyslog | 12.50 |',
      '| generator | – |',
      '| broken | – |',
    ]);
    // beside records/s, before the summary table
    expect(header).toBeLessThan(lines.indexOf('#### Summary'));
  });

  it('a failed contender says so', () => {
    const s = scenario({ rows: [{ ...row('x', 0), runs: 0, failures: 3 }], summary: undefined });
    expect(scenarioMarkdown(s, machine)).toContain('| x | FAILED (3 runs) |');
  });

  it('the report has a title, the command, and --quick says its figures are not figures', () => {
    expect(reportMarkdown(report([scenario()]))).toMatch(/^# LogStream Lab benchmark\n\n`npm run bench` — 2 cores/);
    expect(reportMarkdown({ ...report([]), quick: true })).toContain('--quick');
  });

  it('JSON round-trips with the machine, every scenario and row, numbers rounded to 3 decimals', () => {
    const r = report([scenario({ rows: [row('x', 1 / 3)] })]);
    const back = JSON.parse(reportJson(r)) as BenchReport;
    expect(back.machine).toEqual(machine);
    expect(back.scenarios[0]!.rows[0]!.recordsPerSec).toBe(0.333);
    expect(Object.keys(back.scenarios[0]!)).toEqual(
      expect.arrayContaining(['scenario', 'title', 'runs', 'records', 'recordBytes', 'baseline', 'rows', 'summary']),
    );
    expect(Object.keys(back.scenarios[0]!.rows[0]!)).toEqual(
      expect.arrayContaining(['contender', 'runs', 'recordsPerSec', 'min', 'max', 'mbPerSec', 'ratio', 'samples']),
    );
  });
});

describe('chart', () => {
  it('labels a summary bar with its fraction of the ceiling and its ratio to rsyslog', () => {
    const s = scenario();
    expect(barLabel(s, s.rows[1]!)).toBe('40 % of ceiling · 1.60× rsyslog');
    expect(barLabel(s, s.rows[0]!)).toBe('');
    expect(barLabel({ ...s, summary: undefined }, s.rows[1]!)).toBe('1.60× rsyslog');
  });

  it('one panel per scenario that has figures; renders to an SVG with every contender named', async () => {
    const loss = scenario({
      scenario: 'udp-loss',
      chart: 'loss-curve',
      summary: undefined,
      rows: [25_000, 50_000, 0].map((rate, i) => ({
        ...summariseRuns(`${rate}`, [
          run(rate || 70_000, 1000, { rateAsked: rate, lossPct: i, sentPerSec: rate || 80_000 }),
        ]),
      })),
    });
    const empty = scenario({ scenario: 'nothing', rows: [{ ...row('x', 0), runs: 0 }] });
    const r = report([scenario(), loss, empty]);
    const spec = chartSpec(r) as unknown as { vconcat: unknown[] };
    expect(spec.vconcat).toHaveLength(2);
    const svg = await renderSvg(r);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const text of ['ceiling', 'lane | one', 'rsyslog', 'udp-loss', 'loss %', 'Test CPU 9000'])
      expect(svg).toContain(text);
  });

  it('an empty report still renders', async () => {
    expect(await renderSvg(report([]))).toMatch(/^<svg/);
  });
});
