/**
 * The chaos report (issue 10 part 3, issue 18 item 6): `latest.json` (everything, the fault log included)
 * and `latest.md` (the tables), written side by side under chaos-results/, and again as `short.*` /
 * `long.*` for the profile that ran. `courseTable` is the summary COURSE.md's reliability section quotes;
 * `refreshCourse` rewrites it there from a report (`npm run chaos -- --refresh-course chaos-results/long.json`).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChaosReport, LaneReport } from './types.ts';
import { FAULT_KINDS } from './schedule.ts';

const n = (x: number) => x.toLocaleString('en');
const cell = (x: number | null | undefined) => (x === null || x === undefined ? '–' : n(x));
const pct = (a: number, b: number) => (b ? `${((a / b) * 100).toFixed(2)}%` : '0%');
const faultsOf = (r: LaneReport) => FAULT_KINDS.map((k) => r.faults[k] ?? 0).reduce((a, b) => a + b, 0);
const lock = (r: LaneReport) => (r.dirLock?.tries ? `${r.dirLock.refused}/${r.dirLock.tries}` : '–');

/** "receiver-kill 1,235 · shipper-kill 27" */
function causes(r: LaneReport): string {
  if (r.udp) {
    const u = r.udp;
    return `kernel ${cell(u.kernelDrops)}, app ${cell(u.appDrops)}, send errors ${cell(u.sendErrors)}`;
  }
  const by = Object.entries(r.loss?.byCause ?? {}).filter(([, v]) => v > 0);
  return by.length ? by.map(([k, v]) => `${k} ${n(v)}`).join(' · ') : '–';
}

function ackedRow(r: LaneReport): string {
  const v = r.verdict;
  const extra = r.segments
    ? ` (${n(r.segments.runs)} segments; never ACKed: ${n(r.segments.unackedStored)} stored, ${n(Object.values(r.segments.unackedLostByCause).reduce((a, b) => a + b, 0))} not)`
    : '';
  return `| ${r.lane} | ${r.transport} | ${n(r.records)}${extra} | ${cell(v?.unique)} | ${cell(v?.lost)} | ${cell(v?.duplicated)} | ${cell(v?.reordered)} | ${faultsOf(r)} | ${r.receiverRestarts} | ${r.shipperRestarts} | ${lock(r)} | ${r.peakRssMb.receiver} | ${r.passed ? 'PASS' : 'FAIL'} |`;
}

function lossRow(r: LaneReport): string {
  const sent = r.loss?.sent ?? r.udp?.sent ?? r.records;
  const persisted = r.loss?.persisted ?? r.verdict?.unique ?? 0;
  const lost = r.loss?.lost ?? r.verdict?.lost ?? 0;
  const dup = r.loss?.duplicated ?? r.verdict?.duplicated ?? 0;
  return `| ${r.lane} | ${r.transport} | ${n(sent)} | ${n(persisted)} | ${n(lost)} (${pct(lost, sent)}) | ${causes(r)} | ${n(r.loss?.unexplained ?? 0)} | ${n(dup)} | ${faultsOf(r)} | ${lock(r)} | ${r.passed ? 'measured' : 'FAIL'} |`;
}

export function renderMarkdown(rep: ChaosReport): string {
  const lines: string[] = [];
  lines.push(`# Chaos run: ${rep.profile} profile, seed ${rep.seed} — ${rep.passed ? 'PASSED' : 'FAILED'}`);
  lines.push('');
  lines.push(
    `${rep.startedAt}, ${(rep.elapsedMs / 1000).toFixed(1)} s in all (records flow for ${(rep.durationMs / 1000).toFixed(0)} s while the faults fall); ` +
      `${n(rep.recordsTotal)} records over ${rep.lanes.length} lanes (${n(rep.recordsPerLane)} per lane), ${rep.faultsTotal} faults; full disk by ${rep.enospcMode === 'tmpfs' ? 'a real tmpfs (day09, day13) and the injected ENOSPC sink (the other lanes)' : 'the injected ENOSPC sink (LOGSTREAM_FAULT_SINK)'}; ` +
      `${rep.machine.cpus} CPUs, Node ${rep.machine.node}, ${rep.machine.platform}.`,
  );
  lines.push('');
  lines.push(`Reproduce: \`${rep.command}\``);
  lines.push('');
  const acked = rep.lanes.filter((r) => r.acked);
  const unacked = rep.lanes.filter((r) => !r.acked);
  if (acked.length) {
    lines.push('## Acknowledged lanes: budget 0 lost, 0 duplicated (seqs read back from the persisted files)');
    lines.push('');
    lines.push(
      '| lane | transport | records | persisted | lost | duplicated | reordered | faults | receiver restarts | shipper restarts | second receiver refused | peak RSS receiver (MB) | result |',
    );
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const r of acked) lines.push(ackedRow(r));
    lines.push('');
    lines.push(
      'Every persisted record must sit under its own seq (`_rx.seq` equals the number the record carries). day14: the loadgen cannot resume, so it runs in segments of one fresh stream each; "lost" counts ACKed records missing from the files (budget 0), and what a fault left never ACKed is shown beside it. scale: the archive of the JetStream stream, behind 3 receivers and 3 nats-server nodes.',
    );
    lines.push('');
  }
  if (unacked.length) {
    lines.push('## Lanes without ACKs: loss measured and attributed, never hidden');
    lines.push('');
    lines.push(
      '| lane | transport | sent | persisted | lost | lost by cause | unexplained | duplicated | faults | second receiver refused | result |',
    );
    lines.push('|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|');
    for (const r of unacked) lines.push(lossRow(r));
    lines.push('');
    lines.push(
      "Every record carries its number; every missing number is attributed: TCP/TLS records to the fault that ended the connection they travelled on (receiver-kill: in the receiver's memory or socket buffers at kill -9; shipper-kill: in the killed shipper's or forwarder's pipe and buffers; cut: in flight through the proxy), UDP datagrams by when they were sent (inside a receiver-kill or sigstop window; else the kernel's receive buffer, as /proc/net/udp counted). A loss nothing explains fails the lane, and so does a duplicate. day10 splits its loss by layer (its own receiver counts kernel drops).",
    );
    lines.push('');
  }
  lines.push('## Faults injected, by kind');
  lines.push('');
  const laneIds = rep.lanes.map((r) => r.lane);
  lines.push(`| fault | ${laneIds.join(' | ')} | total |`);
  lines.push(`|---|${laneIds.map(() => '---:').join('|')}|---:|`);
  for (const k of FAULT_KINDS) {
    const per = rep.lanes.map((r) => r.faults[k] ?? 0);
    lines.push(`| ${k} | ${per.join(' | ')} | ${per.reduce((a, b) => a + b, 0)} |`);
  }
  lines.push('');
  lines.push(
    'receiver-kill: kill -9, restart on the same port and data dir (scale: one of the 3 receivers, down a while, back knowing nothing) · shipper-kill: kill -9 of the shipper (acked lanes: restarted with the same --state-dir, resumes after its last ACKed line; day08/syslog: the shipper or forwarder, its buffered records lost; day14: the loadgen segment) · cut: FIN or RST on every connection (FaultProxy) · stall: nothing forwarded either way · sigstop: receiver SIGSTOP, then SIGCONT · slow-disk: receiver restarted with every write delayed · full-disk: ENOSPC, then space back and a restart · second-receiver: another receiver started on the same data dir (the dir lock must refuse it; the first keeps running) · nats-kill: kill -9 of one nats-server node, restarted on its store · archiver-kill: kill -9 of the JetStream archiver, restarted on its files.',
  );
  lines.push('');
  lines.push('## Clean stops (SIGTERM; exit 0 within the 5 s deadline expected)');
  lines.push('');
  const stops = rep.lanes.flatMap((r) => r.gracefulStops);
  const clean = stops.filter((s) => s.mustBeClean);
  const bad = clean.filter((s) => s.exitCode !== 0);
  const slowest = clean.reduce((m, s) => Math.max(m, s.ms), 0);
  lines.push(
    `${clean.length} SIGTERM stops under load: ${bad.length} not clean; slowest ${slowest} ms.${stops.length > clean.length ? ` (${stops.length - clean.length} more after a failed disk, where any exit code is fair.)` : ''}`,
  );
  lines.push('');
  lines.push('## What failed');
  lines.push('');
  if (rep.failures.length === 0) lines.push('Nothing.');
  else for (const f of rep.failures) lines.push(`- ${f.split('\n')[0]}`);
  lines.push('');
  return lines.join('\n');
}

/** The summary COURSE.md quotes: one row per lane, the totals, the faults by kind. */
export function courseTable(rep: ChaosReport): string {
  const lines: string[] = [];
  const faults = FAULT_KINDS.filter((k) => rep.faults[k])
    .map((k) => `${k} ${rep.faults[k]}`)
    .join(', ');
  const acked = rep.lanes.filter((r) => r.acked);
  lines.push(
    `\`${rep.command}\` on the course machine (${rep.machine.cpus} cores, Node ${rep.machine.node.replace(/^v/, '')}, ${rep.startedAt.slice(0, 10)}; ` +
      `\`chaos-results/${rep.profile}.md\` has the whole report): ${(rep.elapsedMs / 1000).toFixed(0)} s, **${n(rep.recordsTotal)} records, ${rep.faultsTotal} faults** over ${rep.lanes.length} lanes, ` +
      `${acked.every((r) => r.passed) ? `0 lost and 0 duplicated on all ${acked.length} acknowledged lanes` : 'FAILURES on acknowledged lanes (see the report)'}; every record read back from the files.`,
  );
  lines.push('');
  lines.push(
    '| lane | transport | delivery | records | persisted | lost | lost by cause | duplicated | faults | result |',
  );
  lines.push('|---|---|---|---:|---:|---:|---|---:|---:|---|');
  for (const r of rep.lanes) {
    const sent = r.acked ? r.records : (r.loss?.sent ?? r.udp?.sent ?? r.records);
    const persisted = r.acked ? (r.verdict?.unique ?? 0) : (r.loss?.persisted ?? r.verdict?.unique ?? 0);
    const lost = r.acked ? (r.verdict?.lost ?? 0) : (r.loss?.lost ?? r.verdict?.lost ?? 0);
    const dup = r.acked ? (r.verdict?.duplicated ?? 0) : (r.loss?.duplicated ?? r.verdict?.duplicated ?? 0);
    const by = r.acked
      ? r.segments
        ? `never ACKed: ${Object.entries(r.segments.unackedLostByCause)
            .map(([k, v]) => `${k} ${n(v)}`)
            .join(', ')}`.replace(/: $/, ': 0')
        : '–'
      : causes(r);
    lines.push(
      `| ${r.lane} | ${r.transport} | ${r.acked ? 'acked' : 'no ACKs'} | ${n(sent)} | ${n(persisted)} | ${n(lost)}${r.acked ? '' : ` (${pct(lost, sent)})`} | ${by} | ${n(dup)} | ${faultsOf(r)} | ${r.passed ? (r.acked ? 'PASS' : 'measured') : 'FAIL'} |`,
    );
  }
  lines.push('');
  const stops = rep.lanes.flatMap((r) => r.gracefulStops).filter((s) => s.mustBeClean);
  const tries = rep.lanes.reduce((a, r) => a + (r.dirLock?.tries ?? 0), 0);
  const refused = rep.lanes.reduce((a, r) => a + (r.dirLock?.refused ?? 0), 0);
  lines.push(
    `Faults by kind (all lanes): ${faults}.${tries ? ` A second receiver on a running lane's data dir: refused ${refused} of ${tries} times.` : ''} ` +
      `${stops.length} SIGTERM stops under load, ${stops.filter((s) => s.exitCode !== 0).length} not clean (slowest ${stops.reduce((m, s) => Math.max(m, s.ms), 0)} ms).`,
  );
  return lines.join('\n');
}

const BEGIN = '<!-- chaos-table:begin (npm run chaos -- --refresh-course chaos-results/long.json) -->';
const END = '<!-- chaos-table:end -->';

/** Rewrites the table between the markers in COURSE.md (the markers are added after "### Reliability results" when missing). */
export async function refreshCourse(coursePath: string, rep: ChaosReport): Promise<void> {
  const text = await readFile(coursePath, 'utf8');
  const block = `${BEGIN}\n${courseTable(rep)}\n${END}`;
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) {
    await writeFile(coursePath, text.slice(0, a) + block + text.slice(b + END.length));
    return;
  }
  throw new Error(`${coursePath}: no ${BEGIN} … ${END} markers`);
}

/** Writes `<dir>/latest.{json,md}` and the same as `<dir>/<profile>.{json,md}` (so the last run of each profile stays). */
export async function writeReport(rep: ChaosReport, dir: string): Promise<{ json: string; md: string }> {
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(rep, null, 2)}\n`;
  const md = renderMarkdown(rep);
  for (const name of ['latest', rep.profile]) {
    await writeFile(join(dir, `${name}.json`), text);
    await writeFile(join(dir, `${name}.md`), md);
  }
  return { json: join(dir, 'latest.json'), md: join(dir, 'latest.md') };
}
