/**
 * Day 10's experiment: the same load over day 08's TCP lane and day 10's UDP lane, at several rates.
 *
 *   npx tsx scripts/experiments/day10.ts [--records 100000] [--rates 25000,50000,100000,200000,max] [--rcvbufs 4MiB,64KiB] [--lessons DIR]
 *
 * For each rate it prints what each lane delivered, the loss, and where the loss happened:
 *   - TCP never loses: past what the receiver can take, the sender is slowed down (backpressure), so the
 *     delivered rate flattens while the loss stays 0;
 *   - UDP never slows the sender: past what the receiver can take, the socket's receive buffer fills and
 *     the KERNEL drops datagrams (udp.kernelDrops); past what the disk can take, the RECEIVER drops them
 *     (udp.appDrops). The receiver's gaps say how many records are missing; the two counters say who lost them.
 * Each rate runs UDP twice, with a big and a small receive buffer (--rcvbufs): a smaller buffer absorbs
 * smaller bursts, so loss starts earlier.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { userPath } from '../../checks/harness/runner.ts';
import { opt, parseCli, parseSize } from '../../shared/cli.ts';
import { useLessonsRoot } from '../lib/launch.ts';
import { runTcpLane, runUdpLane, type LaneRun } from '../bench/udp-lane.ts';

const args = parseCli({
  name: 'scripts/experiments/day10.ts',
  summary:
    "Day 10 experiment: the same load over day 08's TCP lane and day 10's UDP lane at several rates; where is the loss?",
  options: {
    lessons: opt.string(
      '--lessons <dir>',
      "run the programs of this lessons folder (a learner's copy) instead of the repo's lessons/",
    ),
    records: opt.int('--records <n>', 'records per run', 100_000, { min: 1000 }),
    rates: opt.list('--rates <list>', 'rates to try, records/s (max = as fast as possible)', [
      '25000',
      '50000',
      '100000',
      '200000',
      'max',
    ]),
    rcvbufs: opt.list('--rcvbufs <list>', "the UDP receiver's --rcvbuf: one UDP run per size at each rate", [
      '4MiB',
      '64KiB',
    ]),
    maxDatagram: opt.bytes('--max-datagram <size>', "the UDP shipper's --max-datagram", 1472, { min: 64, max: 65_507 }),
    udpOnly: opt.flag('--udp-only', 'skip the TCP lane'),
  },
  validate: (v) => {
    if (!v.rates.every((r) => r === 'max' || /^\d+$/.test(r)))
      return `--rates: '${v.rates.join(',')}' must be numbers or max`;
    try {
      v.rcvbufs.forEach((b) => parseSize(b, 0, 1 << 30));
    } catch (err) {
      return `--rcvbufs: ${(err as Error).message}`;
    }
    return undefined;
  },
});
// --lessons: the receivers and shippers come from the learner's copy (issue 16)
if (args.lessons) {
  const root = userPath(args.lessons);
  const missing = ['day08/receiver.ts', 'day08/shipper.ts', 'day10/receiver.ts', 'day10/shipper.ts'].filter(
    (f) => !existsSync(join(root, f)),
  );
  if (missing.length) {
    console.error(`scripts/experiments/day10.ts: --lessons ${root} has no ${missing.join(', ')}`);
    process.exit(2);
  }
  useLessonsRoot(root);
}
const withTcp = !args.udpOnly;

const rates = args.rates.map((r) => (r === 'max' ? 0 : Number(r)));
const rcvbufs = args.rcvbufs.map((b) => parseSize(b, 0, 1 << 30));
const k = (n: number) => (n >= 1000 ? `${Math.round(n / 1000).toLocaleString('en-US')}k` : String(Math.round(n)));
const pct = (n: number) => (n === 0 ? '0' : n < 0.01 ? '<0.01' : n.toFixed(2));

console.error(
  `day 10 experiment: ${args.records.toLocaleString('en-US')} records per run, rates ${args.rates.join(', ')} records/s, UDP --rcvbuf ${args.rcvbufs.join(' and ')}`,
);
const rows: LaneRun[] = [];
for (const rate of rates) {
  if (withTcp) {
    const t = await runTcpLane({ records: args.records, rate });
    rows.push(t);
    console.error(`  tcp ${rate ? k(rate) : 'max'}: delivered ${k(t.deliveredPerSec)}/s, loss ${pct(t.lossPct)}%`);
  }
  for (const rcvbuf of rcvbufs) {
    const u = await runUdpLane({ records: args.records, rate, rcvbuf, maxDatagram: args.maxDatagram });
    rows.push(u);
    console.error(
      `  udp ${rate ? k(rate) : 'max'} rcvbuf ${rcvbuf}: delivered ${k(u.deliveredPerSec)}/s, loss ${pct(u.lossPct)}% (kernel dropped ${u.kernelDrops ?? '?'} datagrams, receiver ${u.appDrops})`,
    );
  }
}

function where(r: LaneRun): string {
  if (r.lane === 'tcp')
    return r.rate && r.sentPerSec < r.rate * 0.9 ? 'none: the sender was slowed down (backpressure)' : 'none';
  if (r.delivered === r.records) return 'none';
  const perDatagram = r.datagrams ? r.records / r.datagrams : 1;
  const parts: string[] = [];
  if (r.kernelDrops)
    parts.push(`kernel: ${r.kernelDrops} datagrams (~${k(r.kernelDrops * perDatagram)} records, receive buffer full)`);
  if (r.appDrops) parts.push(`receiver: ${r.appDrops} datagrams (disk behind)`);
  const lost = r.records - r.delivered;
  // Counters are in datagrams, the loss in records: the split is an estimate (records per datagram vary).
  const other = lost - Math.round((r.kernelDrops ?? 0) * perDatagram) - Math.round(r.appDrops * perDatagram);
  if (r.kernelDrops === null) parts.push('kernel counter unavailable (not Linux)');
  else if (other > Math.max(2 * perDatagram, 0.05 * lost))
    parts.push(`elsewhere (e.g. the sender's own send errors): ~${k(other)} records`);
  return parts.join('; ') || 'unknown';
}

const lines = [
  `| lane | rate asked | sent/s | delivered/s | loss % | receiver's gaps | where the loss happened |`,
  '|---|---:|---:|---:|---:|---:|---|',
  ...rows.map(
    (r) =>
      `| ${r.lane === 'udp' ? `UDP day 10${r.rcvbuf ? ` (rcvbuf ${Math.round(r.rcvbuf / 1024)} KiB granted)` : ''}` : 'TCP day 08'} | ${r.rate ? k(r.rate) : 'max'} | ${k(r.sentPerSec)} | ${k(r.deliveredPerSec)} | ${pct(r.lossPct)} | ${r.lane === 'udp' ? r.gaps : '-'} | ${where(r)} |`,
  ),
];
console.log(`\n${lines.join('\n')}\n`);
console.log(
  `${args.records.toLocaleString('en-US')} records per run (~200 bytes each). UDP: --max-datagram ${args.maxDatagram}. "receiver's gaps" misses records lost after the last one that arrived (nothing came after them to reveal the gap).`,
);
