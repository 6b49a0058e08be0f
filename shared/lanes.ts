// The lane table (issue 22.4): one row per lane — its id, default port, transport and programs. The lesson launcher
// (scripts/lib/lessons.ts), the stack (scripts/lib/stack-lanes.ts), the stack's checks and the docker test read it
// here, so a port or a program is written down once. COURSE.md's ports table shows the same numbers (the docker test
// holds the two together). shared/ may not import lessons/ or scripts/: this module only names files.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LaneId = 'day08' | 'day09' | 'day10' | 'day11' | 'day12' | 'day13' | 'day14' | 'syslog';

export interface Lane {
  id: LaneId;
  /** the receiver's default port, and its shipper's (COURSE.md "Ports") */
  port: number;
  /** the syslog lane's TLS port (its UDP and TCP share `port`) */
  tlsPort?: number;
  /** what the ready line says and COURSE.md's table shows */
  transport: 'tcp' | 'lsp1-tcp' | 'lsp1-udp' | 'lsp1-tls' | 'syslog';
  /** the receiver, relative to the repo root */
  receiver: string;
  /** the client that feeds it, relative to the repo root (day 14 is fed by day 09's shipper in the stack) */
  shipper: string;
}

export const LANE_TABLE: readonly Lane[] = [
  {
    id: 'day08',
    port: 5140,
    transport: 'tcp',
    receiver: 'lessons/day08/receiver.ts',
    shipper: 'lessons/day08/shipper.ts',
  },
  {
    id: 'day09',
    port: 5141,
    transport: 'lsp1-tcp',
    receiver: 'lessons/day09/receiver.ts',
    shipper: 'lessons/day09/shipper.ts',
  },
  {
    id: 'day10',
    port: 5142,
    transport: 'lsp1-udp',
    receiver: 'lessons/day10/receiver.ts',
    shipper: 'lessons/day10/shipper.ts',
  },
  {
    id: 'day11',
    port: 5143,
    transport: 'lsp1-tcp',
    receiver: 'lessons/day11/receiver.ts',
    shipper: 'lessons/day11/shipper.ts',
  },
  {
    id: 'day12',
    port: 5144,
    transport: 'lsp1-tcp',
    receiver: 'lessons/day12/receiver.ts',
    shipper: 'lessons/day12/shipper.ts',
  },
  {
    id: 'day13',
    port: 5145,
    transport: 'lsp1-tls',
    receiver: 'lessons/day13/receiver.ts',
    shipper: 'lessons/day13/shipper.ts',
  },
  {
    id: 'day14',
    port: 5146,
    transport: 'lsp1-tcp',
    receiver: 'lessons/day14/receiver.ts',
    shipper: 'lessons/day09/shipper.ts',
  },
  {
    id: 'syslog',
    port: 5514,
    tlsPort: 6514,
    transport: 'syslog',
    receiver: 'lessons/stack/syslog-receiver.ts',
    shipper: 'lessons/stack/syslog-forward.ts',
  },
];

/** The row of lane `id`; throws on an unknown id (a typo in a table that reads this one). */
export function lane(id: string): Lane {
  const row = LANE_TABLE.find((l) => l.id === id);
  if (!row) throw new Error(`unknown lane ${id} (shared/lanes.ts knows ${LANE_TABLE.map((l) => l.id).join(', ')})`);
  return row;
}

/**
 * A lane's default port (issue 22.4: a receiver and its shipper started with no flags meet there), or 0 — any
 * free port — for a program that is no lane of the table (the scale-out receivers, several per machine).
 */
export function lanePort(id: string): number {
  return LANE_TABLE.find((l) => l.id === id)?.port ?? 0;
}

/** The repository root (this file is shared/lanes.ts). */
export const LANES_REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where a lane's program is: under `lessonsRoot` (a learner's copy, a fixture) when that root has it,
 * otherwise in this repo's lessons/. Returned relative to the repo root.
 */
export function programPath(file: string, lessonsRoot?: string): string {
  if (lessonsRoot) {
    const abs = resolve(lessonsRoot, file.replace(/^lessons\//, ''));
    if (existsSync(abs)) return relative(LANES_REPO_ROOT, abs);
  }
  return file;
}

/** A lane can run only when its programs exist in this checkout (days still being written are skipped). */
export function laneAvailable(def: { receiver: string; shipper: string }, lessonsRoot?: string): boolean {
  return (
    existsSync(join(LANES_REPO_ROOT, programPath(def.receiver, lessonsRoot))) &&
    existsSync(join(LANES_REPO_ROOT, programPath(def.shipper, lessonsRoot)))
  );
}
