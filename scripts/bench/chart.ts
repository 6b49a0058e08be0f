/**
 * The benchmark's chart: Vega-Lite specs built from a report, rendered to SVG headless (vega's View with
 * renderer 'none' and toSVG(): no canvas, no browser). One panel per scenario, stacked:
 *   - bars: median records/s per contender, a min–max rule over each bar, coloured by role in a summary;
 *   - loss-curve (UDP): loss % and delivered records/s against the rate asked.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { machineLine, type BenchReport, type Row, type ScenarioReport } from './report.ts';

type Panel = Record<string, unknown>;

const WIDTH = 520;

/** The words beside a bar: in a summary, the fraction of the ceiling and the ratio to rsyslog; else the ratio to the baseline. */
export function barLabel(s: ScenarioReport, r: Row): string {
  const line = s.summary?.lines.find((l) => l.contender === r.contender);
  if (!line) return r.ratio != null ? `${r.ratio.toFixed(2)}× ${s.baseline}` : '';
  const parts = [
    line.lossy ? 'lossy' : '',
    line.ownInput ? 'own input' : '',
    line.ofCeiling != null && line.role !== 'ceiling' ? `${Math.round(line.ofCeiling * 100)} % of ceiling` : '',
    line.vsPeer != null && line.role !== 'peer' ? `${line.vsPeer.toFixed(2)}× rsyslog` : '',
  ];
  return parts.filter(Boolean).join(' · ');
}

function barsPanel(s: ScenarioReport): Panel {
  const values = s.rows
    .filter((r) => r.runs > 0)
    .map((r) => ({
      contender: r.contender,
      role: r.role ?? 'contender',
      median: Math.round(r.recordsPerSec),
      min: Math.round(r.min),
      max: Math.round(r.max),
      label: barLabel(s, r),
    }));
  const y = { field: 'contender', type: 'nominal', sort: null, title: null, axis: { labelLimit: 420 } };
  return {
    title: { text: s.scenario, subtitle: s.title, anchor: 'start', fontSize: 13, subtitleFontSize: 11 },
    data: { values },
    width: WIDTH,
    height: { step: 20 },
    encoding: { y },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: {
            field: 'median',
            type: 'quantitative',
            title: `records/s (median of ${s.runs} runs; rule = min–max)`,
            scale: { type: 'linear', nice: true },
          },
          color: { field: 'role', type: 'nominal', legend: s.summary ? { title: 'role', orient: 'bottom' } : null },
        },
      },
      {
        mark: { type: 'rule', color: 'black' },
        encoding: { x: { field: 'min', type: 'quantitative' }, x2: { field: 'max' } },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 },
        encoding: { x: { field: 'max', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

function lossPanel(s: ScenarioReport): Panel {
  // x = the rate the sender reached (median), not the one asked: an unpaced point, or a rate the sender
  // could not reach, then sits where it really was.
  const points = s.rows
    .filter((r) => r.runs > 0 && typeof r.extra['rateAsked'] === 'number')
    .map((r) => ({
      sent: r.extraMedian['sentPerSec'] ?? Number(r.extra['sentPerSec']),
      loss: r.extraMedian['lossPct'] ?? Number(r.extra['lossPct'] ?? 0),
      delivered: Math.round(r.recordsPerSec),
      contender: r.contender,
    }));
  const values = points.flatMap((p) => [
    { sent: p.sent, measure: 'delivered records/s', value: p.delivered, contender: p.contender },
    { sent: p.sent, measure: 'loss % (right axis)', value: p.loss, contender: p.contender },
  ]);
  const maxLoss = Math.max(1, ...points.map((p) => p.loss));
  const x = { field: 'sent', type: 'quantitative', title: 'rate sent (records/s, median)' };
  return {
    title: { text: s.scenario, subtitle: s.title, anchor: 'start', fontSize: 13, subtitleFontSize: 11 },
    data: { values },
    width: WIDTH,
    height: 220,
    layer: [
      {
        transform: [{ filter: "datum.measure === 'delivered records/s'" }],
        mark: { type: 'line', point: true, tooltip: true },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'delivered records/s' },
          order: { field: 'sent' },
          color: { field: 'measure', type: 'nominal', legend: { orient: 'bottom', title: null } },
        },
      },
      {
        transform: [{ filter: "datum.measure !== 'delivered records/s'" }],
        mark: { type: 'line', point: true, strokeDash: [4, 2], tooltip: true },
        encoding: {
          x,
          y: {
            field: 'value',
            type: 'quantitative',
            title: 'loss %',
            scale: { domain: [0, maxLoss] },
            axis: { format: '.1f' },
          },
          order: { field: 'sent' },
          color: { field: 'measure', type: 'nominal' },
        },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

/** The Vega-Lite spec of a report's chart (exported for tests and for anyone who wants the JSON). */
export function chartSpec(r: BenchReport): TopLevelSpec {
  const panels = r.scenarios
    .filter((s) => s.rows.some((row) => row.runs > 0))
    .map((s) => (s.chart === 'loss-curve' ? lossPanel(s) : barsPanel(s)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `LogStream Lab benchmark${r.quick ? ' (--quick)' : ''}`,
      subtitle: machineLine(r.machine),
      anchor: 'start',
    },
    background: 'white',
    padding: 12,
    vconcat: panels.length ? panels : [{ data: { values: [] }, mark: 'point' }],
    config: { font: 'sans-serif', view: { stroke: null } },
  } as unknown as TopLevelSpec;
}

/** Renders the chart to an SVG string, headless. */
export async function renderSvg(r: BenchReport): Promise<string> {
  const compiled = vl.compile(chartSpec(r)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
