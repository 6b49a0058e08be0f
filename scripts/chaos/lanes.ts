/**
 * The lanes the chaos suite drives (issue 10, issue 18 item 6: every lane), how to start each one so that
 * a restart resumes, and which faults fall on it.
 *
 * Families (the driver that runs a lane):
 * - `acked` (day 09, 11, 12, 13): a followed input file (`--follow --input FILE --state-dir DIR`): the read
 *   position moves only on an ACK, so a shipper killed with -9 re-reads from there with the same seqs and
 *   the receiver drops what it already holds. Budget: 0 lost, 0 duplicated. Each lane varies what it
 *   exercises (fsync policy, spool, compression on the wire and at rest with rotation, TLS).
 * - `udp` (day 10): LSP/1 datagrams, loss measured and split by layer.
 * - `loadgen` (day 14): day 14's load generator into day 14's receiver (bounded queue, blocking overflow),
 *   in segments of one fresh stream each: every ACKed record must be stored exactly once; what was sent
 *   but never ACKed when a fault cut the segment short is counted by cause (the loadgen cannot resume).
 * - `stream` (day 08 NDJSON over TCP; syslog over TCP with octet counting and over TLS): no ACKs. The
 *   harness writes numbered records into the shipper's/forwarder's stdin; every record lost is attributed
 *   to the fault that cut the connection it travelled on (rsyslog's testbench budgets loss the same way);
 *   a loss no fault explains fails the lane.
 * - `syslog-udp`: syslog datagrams (RFC 5426) sent by the harness; loss by cause: the receiver down
 *   (kill -9), stopped (SIGSTOP), or the kernel's receive buffer (its /proc/net/udp drop counter).
 * - `jetstream` (lessons/scale): 3 nats-server nodes, 3 receivers into an R3 stream, the archiver, a
 *   failing-over shipper; kill -9 of a receiver, a node, the archiver: 0 lost, 0 duplicated in the archive.
 *
 * Programs come from the lane table (shared/lanes.ts, issue 22.4); ports do not matter here (every program
 * listens on a free port); the transports are the chaos report's finer names (octet-counted syslog, …).
 */
import { join } from 'node:path';
import { lane as tableLane, type LaneId as TableLaneId } from '../../shared/lanes.ts';
import { REPO_ROOT } from '../lib/launch.ts';
import type { FaultKind } from './schedule.ts';

export type AckedLaneId = 'day09' | 'day11' | 'day12' | 'day13';
export type StreamLaneId = 'day08' | 'syslog-tcp' | 'syslog-tls';
export type LaneId = AckedLaneId | 'day10' | 'day14' | StreamLaneId | 'syslog-udp' | 'scale';
export type LaneFamily = 'acked' | 'udp' | 'loadgen' | 'stream' | 'syslog-udp' | 'jetstream';

export const ACKED_LANES: readonly AckedLaneId[] = ['day09', 'day11', 'day12', 'day13'];
export const STREAM_LANES: readonly StreamLaneId[] = ['day08', 'syslog-tcp', 'syslog-tls'];
export const ALL_LANES: readonly LaneId[] = [
  'day08',
  ...ACKED_LANES,
  'day10',
  'day14',
  ...STREAM_LANES.filter((l) => l !== 'day08'),
  'syslog-udp',
  'scale',
];

export const FAMILY: Record<LaneId, LaneFamily> = {
  day08: 'stream',
  day09: 'acked',
  day10: 'udp',
  day11: 'acked',
  day12: 'acked',
  day13: 'acked',
  day14: 'loadgen',
  'syslog-tcp': 'stream',
  'syslog-tls': 'stream',
  'syslog-udp': 'syslog-udp',
  scale: 'jetstream',
};

/** Whether a lane promises delivery (ACKs): its budget is 0 lost, 0 duplicated. */
export const isAcked = (id: LaneId): boolean => ['acked', 'loadgen', 'jetstream'].includes(FAMILY[id]);

/** The faults each family can take (the schedule deals them round by round, every kind before any twice). */
export const LANE_FAULTS: Record<LaneFamily, readonly FaultKind[]> = {
  acked: ['receiver-kill', 'shipper-kill', 'cut', 'stall', 'sigstop', 'slow-disk', 'full-disk', 'second-receiver'],
  udp: ['sigstop'],
  loadgen: ['receiver-kill', 'shipper-kill', 'cut', 'stall', 'sigstop', 'second-receiver'],
  stream: ['receiver-kill', 'shipper-kill', 'cut', 'stall', 'sigstop', 'second-receiver'],
  'syslog-udp': ['receiver-kill', 'sigstop'],
  jetstream: ['receiver-kill', 'nats-kill', 'archiver-kill', 'shipper-kill'],
};

export const TRANSPORT: Record<LaneId, string> = {
  day08: 'ndjson-tcp',
  day09: 'lsp1-tcp',
  day10: 'lsp1-udp',
  day11: 'lsp1-tcp',
  day12: 'lsp1-tcp',
  day13: 'lsp1-tls',
  day14: 'lsp1-tcp',
  'syslog-tcp': 'syslog-tcp-octet',
  'syslog-tls': 'syslog-tls',
  'syslog-udp': 'syslog-udp',
  scale: 'lsp1-tcp → jetstream R3',
};

export interface LaneDirs {
  dataDir: string;
  stateDir: string;
  spoolDir: string;
  /** records per lane: sizes the rotation so a short run rotates too */
  records: number;
}

export interface ChaosLaneDef {
  id: LaneId;
  transport: string;
  receiver: string;
  shipper: string;
  /** what this lane exercises besides the faults, for the report */
  notes: string;
  receiverArgs(d: LaneDirs): string[];
  shipperArgs(d: LaneDirs): string[];
}

export const CERTS = join(REPO_ROOT, 'certs');

/** A lane's receiver and shipper, from the lane table (shared/lanes.ts). */
export function programs(id: TableLaneId): { receiver: string; shipper: string } {
  const { receiver, shipper } = tableLane(id);
  return { receiver, shipper };
}

/** records files rotate a few times per run (rotated files are read back too, .zst included) */
export const rotate = (d: { records: number }) =>
  String(Math.max(1 << 20, Math.min(64 << 20, Math.floor((d.records * 200) / 4))));

export const CHAOS_LANES: Record<AckedLaneId | 'day10', ChaosLaneDef> = {
  day09: {
    id: 'day09',
    transport: TRANSPORT.day09,
    ...programs('day09'),
    notes: 'fsync always (group commit)',
    receiverArgs: (d) => ['--fsync', 'always', '--rotate-bytes', rotate(d)],
    shipperArgs: () => [],
  },
  day11: {
    id: 'day11',
    transport: TRANSPORT.day11,
    ...programs('day11'),
    notes: 'fsync interval; shipper spool with a small memory bound',
    receiverArgs: (d) => ['--fsync', 'interval', '--rotate-bytes', rotate(d)],
    // a memory bound of 1–3 s of traffic: a longer outage overflows to the spool
    shipperArgs: (d) => ['--spool', d.spoolDir, '--queue-records', '4000'],
  },
  day12: {
    id: 'day12',
    transport: TRANSPORT.day12,
    ...programs('day12'),
    notes: 'zstd on the wire; rotated files zstd at rest',
    receiverArgs: (d) => ['--fsync', 'interval', '--rotate-bytes', rotate(d), '--rest-compression', 'zstd'],
    shipperArgs: () => ['--codec', 'zstd'],
  },
  day13: {
    id: 'day13',
    transport: TRANSPORT.day13,
    ...programs('day13'),
    notes: 'TLS; fsync never (a kill -9 loses nothing the kernel has)',
    receiverArgs: (d) => ['--fsync', 'never', '--rotate-bytes', rotate(d), '--certs', CERTS],
    shipperArgs: () => ['--certs', CERTS],
  },
  day10: {
    id: 'day10',
    transport: TRANSPORT.day10,
    ...programs('day10'),
    notes: 'UDP: loss is measured, not prevented',
    receiverArgs: () => [],
    shipperArgs: () => [],
  },
};

/** The no-ACK stream lanes: a receiver, and a shipper fed on its stdin (`--input -`). */
export interface StreamLaneDef {
  id: StreamLaneId;
  receiver: string;
  shipper: string;
  notes: string;
  /** `port` is the listening port (0 the first time) */
  receiverArgs(port: number, d: { dataDir: string; records: number }): string[];
  /** the ready line's port for this lane (the syslog receiver lists several) */
  readyPort(ready: Record<string, unknown>): number;
  shipperArgs(target: string): string[];
}

/** The syslog receiver listening on one transport only (`port`; the others off). */
const syslogReceiverArgs = (which: 'tcp' | 'tls' | 'udp', port: number, d: { records: number }) => [
  ...(['tcp', 'udp', 'tls'] as const).flatMap((t) => [`--${t}-port`, t === which ? String(port) : 'off']),
  '--rotate-bytes',
  rotate(d),
  '--certs',
  CERTS,
];

/** The forwarder fed on its stdin, octet-counted framing. */
const syslogForwardArgs = (target: string) => [
  '--target',
  target,
  '--input',
  '-',
  '--format',
  'ndjson',
  '--framing',
  'octet',
];

const syslogPorts = (ready: Record<string, unknown>, which: 'tcp' | 'tls' | 'udp') =>
  Number((ready['ports'] as Record<string, unknown> | undefined)?.[which]);

export const STREAM_LANE_DEFS: Record<StreamLaneId, StreamLaneDef> = {
  day08: {
    id: 'day08',
    ...programs('day08'),
    notes: 'NDJSON over one TCP connection, no ACKs; fsync interval',
    receiverArgs: (port, d) => ['--port', String(port), '--fsync', 'interval', '--rotate-bytes', rotate(d)],
    readyPort: (r) => Number(r['port']),
    shipperArgs: (target) => ['--target', target, '--input', '-', '--format', 'ndjson'],
  },
  'syslog-tcp': {
    id: 'syslog-tcp',
    ...programs('syslog'),
    notes: 'RFC 5424, RFC 6587 octet counting, syslog-forward → syslog-receiver',
    receiverArgs: (port, d) => syslogReceiverArgs('tcp', port, d),
    readyPort: (r) => syslogPorts(r, 'tcp'),
    shipperArgs: (target) => syslogForwardArgs(target),
  },
  'syslog-tls': {
    id: 'syslog-tls',
    ...programs('syslog'),
    notes: 'RFC 5425: syslog over TLS 1.2+, octet counting',
    receiverArgs: (port, d) => syslogReceiverArgs('tls', port, d),
    readyPort: (r) => syslogPorts(r, 'tls'),
    shipperArgs: (target) => [...syslogForwardArgs(target), '--tls', '--ca', join(CERTS, 'ca.crt')],
  },
};

export const SYSLOG_UDP = {
  receiver: programs('syslog').receiver,
  notes: 'RFC 5426: one message per datagram, sent by the harness (no forwarder speaks UDP)',
  receiverArgs: (port: number, d: { records: number }) => syslogReceiverArgs('udp', port, d),
  readyPort: (r: Record<string, unknown>) => syslogPorts(r, 'udp'),
};
