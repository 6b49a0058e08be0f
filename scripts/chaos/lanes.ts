/**
 * The lanes the chaos suite drives (issue 10): how to start each day's receiver and shipper so that a
 * restart resumes. Acked lanes ship a followed input file (`--follow --input FILE --state-dir DIR`): the
 * read position in the state dir moves only on an ACK, so a shipper killed with -9 re-reads from there
 * with the same seqs and the receiver drops what it already holds. Each lane varies what it exercises
 * (fsync policy, spool, compression on the wire and at rest with rotation, TLS) so one run covers them all.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/launch.ts';

export type AckedLaneId = 'day09' | 'day11' | 'day12' | 'day13';
export type LaneId = AckedLaneId | 'day10';
export const ACKED_LANES: readonly AckedLaneId[] = ['day09', 'day11', 'day12', 'day13'];
export const ALL_LANES: readonly LaneId[] = [...ACKED_LANES, 'day10'];

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

const CERTS = join(REPO_ROOT, 'certs');
/** records files rotate a few times per run (rotated files are read back too, .zst included) */
const rotate = (d: LaneDirs) => String(Math.max(1 << 20, Math.min(64 << 20, Math.floor((d.records * 200) / 4))));

export const CHAOS_LANES: Record<LaneId, ChaosLaneDef> = {
  day09: {
    id: 'day09',
    transport: 'lsp1-tcp',
    receiver: 'lessons/day09/receiver.ts',
    shipper: 'lessons/day09/shipper.ts',
    notes: 'fsync always (group commit)',
    receiverArgs: (d) => ['--fsync', 'always', '--rotate-bytes', rotate(d)],
    shipperArgs: () => [],
  },
  day11: {
    id: 'day11',
    transport: 'lsp1-tcp',
    receiver: 'lessons/day11/receiver.ts',
    shipper: 'lessons/day11/shipper.ts',
    notes: 'fsync interval; shipper spool with a small memory bound',
    receiverArgs: (d) => ['--fsync', 'interval', '--rotate-bytes', rotate(d)],
    // a memory bound of 1–3 s of traffic: a longer outage overflows to the spool
    shipperArgs: (d) => ['--spool', d.spoolDir, '--queue-records', '4000'],
  },
  day12: {
    id: 'day12',
    transport: 'lsp1-tcp',
    receiver: 'lessons/day12/receiver.ts',
    shipper: 'lessons/day12/shipper.ts',
    notes: 'zstd on the wire; rotated files zstd at rest',
    receiverArgs: (d) => ['--fsync', 'interval', '--rotate-bytes', rotate(d), '--rest-compression', 'zstd'],
    shipperArgs: () => ['--codec', 'zstd'],
  },
  day13: {
    id: 'day13',
    transport: 'lsp1-tls',
    receiver: 'lessons/day13/receiver.ts',
    shipper: 'lessons/day13/shipper.ts',
    notes: 'TLS; fsync never (a kill -9 loses nothing the kernel has)',
    receiverArgs: (d) => ['--fsync', 'never', '--rotate-bytes', rotate(d), '--certs', CERTS],
    shipperArgs: () => ['--certs', CERTS],
  },
  day10: {
    id: 'day10',
    transport: 'lsp1-udp',
    receiver: 'lessons/day10/receiver.ts',
    shipper: 'lessons/day10/shipper.ts',
    notes: 'UDP: loss is measured, not prevented',
    receiverArgs: () => [],
    shipperArgs: () => [],
  },
};
