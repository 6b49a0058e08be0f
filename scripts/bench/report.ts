/**
 * The benchmark's arithmetic and output, kept pure so it is unit-tested (report.test.ts): the runs each
 * contender made → one row (median, min–max, MB/s, ratio to the scenario's baseline); a summary scenario's
 * rows → THE figures issue #8 asks for (every lane as a fraction of the raw loopback ceiling, our best lane
 * and our syslog path against rsyslog, the generator alone); and the markdown table and JSON of a report.
 * The SVG chart is in chart.ts. Nothing here opens a socket or reads a clock.
 */

/** What one run of one contender measured (scenarios.ts RunResult, restated so this file stands alone). */
export interface RunSample {
  records: number;
  bytes: number;
  ms: number;
  note?: string;
  extra?: Record<string, unknown>;
}

/**
 * What a contender is in a summary: the ceiling it is measured against, one of our lanes, our syslog
 * path, the peer (rsyslog), or the load generator alone. Contenders without a role are plain rows.
 */
export type Role = 'ceiling' | 'lane' | 'syslog' | 'peer' | 'generator';

export interface Row {
  contender: string;
  role?: Role | undefined;
  /** a lane that may lose records (UDP): its records/s counts what was delivered, and it never counts as "best" */
  lossy?: boolean | undefined;
  /** fed its own records, not the scenario's shared input: shown, never compared with the peer nor counted as "best" */
  ownInput?: boolean | undefined;
  runs: number;
  failures: number;
  /** median records/s over the runs (0 when every run failed) */
  recordsPerSec: number;
  min: number;
  max: number;
  /** median MB/s (10^6 bytes of input per second) */
  mbPerSec: number;
  /** recordsPerSec / the baseline's recordsPerSec (null: no baseline figure) */
  ratio: number | null;
  /** every run's records/s in the order they ran */
  samples: number[];
  /** the last run's note and extra */
  note?: string | undefined;
  extra: Record<string, unknown>;
  /** the median over the runs of every numeric `extra` field that every run reported */
  extraMedian: Record<string, number>;
}

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  node: string;
  os: string;
  date: string;
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  runs: number;
  records: number;
  recordBytes: number;
  baseline: string;
  notes: string;
  rows: Row[];
  summary?: Summary | undefined;
  /** which chart fits: records/s bars (default) or loss % against the rate asked (UDP) */
  chart?: 'bars' | 'loss-curve' | undefined;
  /** `extra` fields the scenario reports beside records/s (their medians over the runs), key → label */
  figures?: Record<string, string> | undefined;
}

export interface BenchReport {
  machine: Machine;
  quick: boolean;
  command: string;
  scenarios: ScenarioReport[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function ratio(a: number, b: number): number | null {
  return b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : null;
}

/** One contender's runs → its row (ratio filled in by `withRatios`). */
export function summariseRuns(
  contender: string,
  samples: readonly RunSample[],
  failures = 0,
  meta: { role?: Role | undefined; lossy?: boolean | undefined; ownInput?: boolean | undefined } = {},
): Row {
  const rates = samples.map((r) => (r.ms > 0 ? r.records / (r.ms / 1000) : 0));
  const mbs = samples.map((r) => (r.ms > 0 ? r.bytes / r.ms / 1000 : 0));
  const last = samples.at(-1);
  const extraMedian: Record<string, number> = {};
  for (const key of Object.keys(samples[0]?.extra ?? {})) {
    const xs = samples.map((r) => r.extra?.[key]);
    if (xs.every((x): x is number => typeof x === 'number' && Number.isFinite(x))) extraMedian[key] = median(xs);
  }
  return {
    contender,
    ...(meta.role ? { role: meta.role } : {}),
    ...(meta.lossy ? { lossy: true } : {}),
    ...(meta.ownInput ? { ownInput: true } : {}),
    runs: samples.length,
    failures,
    recordsPerSec: samples.length ? median(rates) : 0,
    min: samples.length ? Math.min(...rates) : 0,
    max: samples.length ? Math.max(...rates) : 0,
    mbPerSec: samples.length ? median(mbs) : 0,
    ratio: null,
    samples: rates,
    ...(last?.note ? { note: last.note } : {}),
    extra: last?.extra ?? {},
    extraMedian,
  };
}

/** Fills each row's ratio against `baseline` (by name; the first row when it is missing). */
export function withRatios(rows: readonly Row[], baseline: string): { rows: Row[]; baseline: string } {
  const base = rows.find((r) => r.contender === baseline) ?? rows[0];
  const baseRate = base?.recordsPerSec ?? 0;
  return {
    baseline: base?.contender ?? baseline,
    rows: rows.map((r) => ({ ...r, ratio: ratio(r.recordsPerSec, baseRate) })),
  };
}

// ---- the summary (issue #8 "Figures to report") ----------------------------------------------------------

export interface SummaryLine {
  contender: string;
  role: Role;
  recordsPerSec: number;
  mbPerSec: number;
  /** MB/s as a fraction of the ceiling's MB/s: bytes are what every lane and the ceiling have in common */
  ofCeiling: number | null;
  /** records/s against the peer's (rsyslog) on the same messages */
  vsPeer: number | null;
  lossy: boolean;
  ownInput: boolean;
}

export interface Summary {
  ceiling: { contender: string; mbPerSec: number; recordsPerSec: number } | null;
  peer: { contender: string; recordsPerSec: number } | null;
  /** our fastest lane that delivers everything (lossy lanes never count) */
  bestLane: { contender: string; recordsPerSec: number; vsPeer: number | null } | null;
  syslog: { contender: string; recordsPerSec: number; vsPeer: number | null } | null;
  generator: { contender: string; recordsPerSec: number } | null;
  lines: SummaryLine[];
}

/** The figures issue #8 asks for, from a summary scenario's rows (rows with no runs are left out). */
export function summarise(rows: readonly Row[]): Summary {
  const ok = rows.filter((r) => r.runs > 0 && r.role);
  const ceilingRow = ok.find((r) => r.role === 'ceiling');
  const peerRow = ok.find((r) => r.role === 'peer');
  const fastest = (role: Role, lossless: boolean) =>
    ok
      .filter((r) => r.role === role && !(lossless && r.lossy))
      .reduce<Row | undefined>((best, r) => (!best || r.recordsPerSec > best.recordsPerSec ? r : best), undefined);
  // Our lanes: every 'lane' and 'syslog' row; the best is the fastest that loses nothing.
  const ours = ok.filter((r) => (r.role === 'lane' || r.role === 'syslog') && !r.lossy && !r.ownInput);
  const best = ours.reduce<Row | undefined>((b, r) => (!b || r.recordsPerSec > b.recordsPerSec ? r : b), undefined);
  const syslogRow = fastest('syslog', true);
  // the first generator row that ran: the scenario lists the day 14 loadgen before the in-process fallback
  const generatorRow = ok.find((r) => r.role === 'generator');
  const vsPeer = (r: Row) => (peerRow ? ratio(r.recordsPerSec, peerRow.recordsPerSec) : null);
  return {
    ceiling: ceilingRow
      ? { contender: ceilingRow.contender, mbPerSec: ceilingRow.mbPerSec, recordsPerSec: ceilingRow.recordsPerSec }
      : null,
    peer: peerRow ? { contender: peerRow.contender, recordsPerSec: peerRow.recordsPerSec } : null,
    bestLane: best ? { contender: best.contender, recordsPerSec: best.recordsPerSec, vsPeer: vsPeer(best) } : null,
    syslog: syslogRow
      ? { contender: syslogRow.contender, recordsPerSec: syslogRow.recordsPerSec, vsPeer: vsPeer(syslogRow) }
      : null,
    generator: generatorRow ? { contender: generatorRow.contender, recordsPerSec: generatorRow.recordsPerSec } : null,
    lines: ok.map((r) => ({
      contender: r.contender,
      role: r.role!,
      recordsPerSec: r.recordsPerSec,
      mbPerSec: r.mbPerSec,
      ofCeiling: ceilingRow && r.role !== 'generator' ? ratio(r.mbPerSec, ceilingRow.mbPerSec) : null,
      vsPeer: (r.role === 'lane' || r.role === 'syslog' || r.role === 'peer') && !r.ownInput ? vsPeer(r) : null,
      lossy: Boolean(r.lossy),
      ownInput: Boolean(r.ownInput),
    })),
  };
}

// ---- formatting ------------------------------------------------------------------------------------------

export const fmtNum = (n: number): string =>
  !Number.isFinite(n) ? '–' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
export const fmtRatio = (r: number | null | undefined): string => (r == null ? '–' : `${r.toFixed(2)}×`);
export const fmtPct = (r: number | null | undefined): string =>
  r == null ? '–' : `${(r * 100).toFixed(r < 0.1 ? 1 : 0)} %`;
/** `|` would end a markdown cell */
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function machineLine(m: Machine): string {
  return `${m.cores} cores (${m.cpu}), ${m.memGiB} GiB RAM, Node ${m.node}, ${m.os}, ${m.date.slice(0, 16).replace('T', ' ')} UTC`;
}

export function scenarioMarkdown(s: ScenarioReport, m: Machine): string {
  const lines = [
    `### ${s.scenario}: ${s.title}`,
    '',
    `${s.runs} runs alternating, ${s.records.toLocaleString('en-US')} records of ~${s.recordBytes} bytes; ${machineLine(m)}`,
    '',
    `| contender | records/s (median) | min – max | MB/s | vs ${cell(s.baseline)} |`,
    '|---|---:|---:|---:|---:|',
    ...s.rows.map((r) =>
      r.runs === 0
        ? `| ${cell(r.contender)} | FAILED (${r.failures} runs) | – | – | – |`
        : `| ${cell(r.contender)}${r.failures ? ` (${r.failures} of ${r.runs + r.failures} runs failed)` : ''} | ${fmtNum(r.recordsPerSec)} | ${fmtNum(r.min)} – ${fmtNum(r.max)} | ${fmtNum(r.mbPerSec)} | ${fmtRatio(r.ratio)} |`,
    ),
  ];
  if (s.figures) {
    // the figures a scenario is about besides records/s (e.g. ACK latency), medians over the runs
    lines.push(
      '',
      `| contender | ${Object.values(s.figures).map(cell).join(' | ')} |`,
      `|---|${Object.keys(s.figures)
        .map(() => '---:')
        .join('|')}|`,
    );
    for (const r of s.rows)
      lines.push(
        `| ${cell(r.contender)} | ${Object.keys(s.figures)
          .map((k) => (r.extraMedian[k] === undefined ? '–' : fmtNum(r.extraMedian[k])))
          .join(' | ')} |`,
      );
  }
  if (s.summary) lines.push('', ...summaryMarkdown(s.summary));
  if (s.notes) lines.push('', s.notes);
  return lines.join('\n');
}

const ROLE_LABEL: Record<Role, string> = {
  ceiling: 'ceiling',
  lane: 'lane',
  syslog: 'syslog path',
  peer: 'peer',
  generator: 'generator',
};

export function summaryMarkdown(s: Summary): string[] {
  const out = ['#### Summary', ''];
  out.push(
    '| | records/s (median) | MB/s | of raw loopback ceiling (MB/s) | vs rsyslog (records/s) |',
    '|---|---:|---:|---:|---:|',
  );
  for (const l of s.lines)
    out.push(
      `| ${cell(l.contender)} (${ROLE_LABEL[l.role]}${l.lossy ? ', lossy' : ''}${l.ownInput ? ', own input' : ''}) | ${fmtNum(l.recordsPerSec)} | ${fmtNum(l.mbPerSec)} | ${fmtPct(l.ofCeiling)} | ${fmtRatio(l.vsPeer)} |`,
    );
  out.push('');
  if (s.bestLane)
    out.push(
      `- Our best lane: **${s.bestLane.contender}**, ${fmtNum(s.bestLane.recordsPerSec)} records/s = **${fmtRatio(s.bestLane.vsPeer)}** rsyslog (aim: ahead of rsyslog, > 1.00×).`,
    );
  if (s.syslog)
    out.push(
      `- Our syslog path: **${s.syslog.contender}**, ${fmtNum(s.syslog.recordsPerSec)} messages/s = **${fmtRatio(s.syslog.vsPeer)}** rsyslog on identical input (aim ≥ 1.00×).`,
    );
  if (s.peer) out.push(`- Peer: ${s.peer.contender}, ${fmtNum(s.peer.recordsPerSec)} messages/s.`);
  if (s.ceiling)
    out.push(
      `- Ceiling: ${s.ceiling.contender}, ${fmtNum(s.ceiling.mbPerSec)} MB/s (${fmtNum(s.ceiling.recordsPerSec)} records/s of this corpus).`,
    );
  out.push(
    s.generator
      ? `- Generator alone into a discarding sink: ${fmtNum(s.generator.recordsPerSec)} records/s (aim ≥ 2,000,000).`
      : '- Generator alone: not measured (no generator row ran; see the notes for what was skipped).',
  );
  return out;
}

export function reportMarkdown(r: BenchReport): string {
  return [
    `# LogStream Lab benchmark${r.quick ? ' (--quick: small runs, for checking the bench works, not for figures)' : ''}`,
    '',
    `\`${r.command}\` — ${machineLine(r.machine)}`,
    '',
    "Medians of alternating runs; min – max over the runs; ratios against each scenario's baseline. MB = 10^6 bytes of input.",
    '',
    ...r.scenarios.map((s) => `${scenarioMarkdown(s, r.machine)}\n`),
  ].join('\n');
}

export function reportJson(r: BenchReport): string {
  return `${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v), 2)}\n`;
}
