/**
 * The chaos report (issue 10 part 3): `latest.json` (everything, the fault log included) and `latest.md`
 * (the tables COURSE.md's reliability section quotes), written side by side under chaos-results/, and
 * again as `short.*` / `long.*` for the profile that ran.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChaosReport, LaneReport } from './run.ts';
import { FAULT_KINDS } from './schedule.ts';

const n = (x: number) => x.toLocaleString('en');
const cell = (x: number | null | undefined) => (x === null || x === undefined ? '–' : n(x));

function laneRow(r: LaneReport): string {
  const v = r.verdict;
  const faults = FAULT_KINDS.map((k) => r.faults[k] ?? 0).reduce((a, b) => a + b, 0);
  if (!r.acked) {
    const u = r.udp;
    const lost = v ? v.lost : 0;
    const layer = u ? `kernel ${cell(u.kernelDrops)}, app ${cell(u.appDrops)}, send errors ${cell(u.sendErrors)}` : '–';
    return `| ${r.lane} | ${r.transport} | ${n(r.records)} | ${cell(v?.unique)} | ${n(lost)} (${r.records ? ((lost / r.records) * 100).toFixed(2) : '0'}%; ${layer}) | ${cell(v?.duplicated)} | ${cell(v?.reordered)} | ${faults} | ${r.receiverRestarts} | ${r.shipperRestarts} | ${r.peakRssMb.receiver} | ${r.passed ? 'measured' : 'FAIL'} |`;
  }
  return `| ${r.lane} | ${r.transport} | ${n(r.records)} | ${cell(v?.unique)} | ${cell(v?.lost)} | ${cell(v?.duplicated)} | ${cell(v?.reordered)} | ${faults} | ${r.receiverRestarts} | ${r.shipperRestarts} | ${r.peakRssMb.receiver} | ${r.passed ? 'PASS' : 'FAIL'} |`;
}

export function renderMarkdown(rep: ChaosReport): string {
  const lines: string[] = [];
  lines.push(`# Chaos run: ${rep.profile} profile, seed ${rep.seed} — ${rep.passed ? 'PASSED' : 'FAILED'}`);
  lines.push('');
  lines.push(
    `${rep.startedAt}, ${(rep.elapsedMs / 1000).toFixed(1)} s in all (records flow for ${(rep.durationMs / 1000).toFixed(0)} s while the faults fall); ` +
      `${n(rep.recordsTotal)} records (${n(rep.recordsPerLane)} per lane), ${rep.faultsTotal} faults; full disk by ${rep.enospcMode === 'tmpfs' ? 'a real tmpfs (day09, day13) and the injected ENOSPC sink (the other lanes)' : 'the injected ENOSPC sink (LOGSTREAM_FAULT_SINK)'}; ` +
      `${rep.machine.cpus} CPUs, Node ${rep.machine.node}, ${rep.machine.platform}.`,
  );
  lines.push('');
  lines.push(`Reproduce: \`${rep.command}\``);
  lines.push('');
  lines.push('## Per lane (seqs checked from the persisted files, rotated .zst included)');
  lines.push('');
  lines.push(
    '| lane | transport | records | persisted | lost | duplicated | reordered | faults | receiver restarts | shipper restarts | peak RSS receiver (MB) | result |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rep.lanes) lines.push(laneRow(r));
  lines.push('');
  lines.push(
    'Acked lanes must show zero lost, duplicated and reordered, and every persisted record under its own seq (`_rx.seq` equals the number the record carries). UDP (day10) reports its loss and the layer it happened in.',
  );
  lines.push('');
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
    'receiver-kill: kill -9, restart on the same port and data dir · shipper-kill: kill -9, restart with the same --state-dir (resumes after its last ACKed line) · cut: FIN or RST on every connection (FaultProxy) · stall: nothing forwarded either way · sigstop: receiver SIGSTOP, then SIGCONT · slow-disk: receiver restarted with every write delayed · full-disk: ENOSPC, then space back and a restart.',
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
