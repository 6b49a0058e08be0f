/**
 * The lanes of the integrated stack: which program receives, which ships the demo traffic, and the
 * arguments each needs. The stack config (lessons/stack/stack.config.json) turns lanes on and off and
 * sets ports and extra arguments; this table says how to start each one.
 */
import { join } from 'node:path';
import { LANE_TABLE, lane } from '../../shared/lanes.ts';

export interface LaneConfig {
  enabled: boolean;
  port: number;
  /** the syslog lane's TLS port (its UDP and TCP share `port`) */
  tlsPort?: number;
  /** TLS lanes (day13, syslog): require a client certificate signed by the dev CA (mutual TLS) */
  mtls?: boolean;
  receiverArgs: string[];
  shipperArgs: string[];
}

export interface StackConfig {
  host: string;
  dataDir: string;
  certsDir: string;
  readyTimeoutMs: number;
  /** what the stack does when a lane's receiver exits on its own: keep the others running, or stop them all */
  laneExit: 'carry-on' | 'stop-stack';
  dashboard: { enabled: boolean; port: number; refreshMs: number; staleMs: number };
  demo: { enabled: boolean; recordsPerSecond: number };
  lanes: Record<string, LaneConfig>;
}

export interface LaneContext {
  cfg: StackConfig;
  lane: LaneConfig;
  /** the lane's data dir (`<dataDir>/<lane>`) */
  dataDir: string;
  /** where a shipper keeps its state (`<dataDir>/<lane>-shipper`) */
  stateDir: string;
}

/**
 * A lane's dirs under the stack's dataDir (stack.config.json: `data/stack`): the receiver's data and the
 * demo shipper's state. A lesson run keeps its own under `data/lesson/` (scripts/lib/lessons.ts), so
 * `npm start` and `npm run lesson` never share a data or state dir.
 */
export function laneDirs(dataDir: string, laneId: string): { dataDir: string; stateDir: string } {
  return { dataDir: join(dataDir, laneId), stateDir: join(dataDir, `${laneId}-shipper`) };
}

/**
 * Each lane's ports from the one lane table (shared/lanes.ts, issue 22.4): what the stack's config starts from,
 * so stack.config.json (and a --config file) set a port only to move a lane off its table port.
 */
export function laneTablePorts(): Record<string, Pick<LaneConfig, 'port' | 'tlsPort'>> {
  return Object.fromEntries(
    LANE_TABLE.map((l) => [l.id, l.tlsPort ? { port: l.port, tlsPort: l.tlsPort } : { port: l.port }]),
  );
}

export interface LaneDef {
  id: string;
  title: string;
  transport: string;
  /** the receiver, relative to the repo root (`lessons/<lesson>/<file>`); --lessons-root may take it from elsewhere */
  receiver: string;
  receiverArgs(c: LaneContext): string[];
  /** the demo client; it reads records on stdin */
  shipper: string;
  shipperArgs(c: LaneContext, target: string): string[];
}

/** A lane's id, transport and programs, from the one lane table (shared/lanes.ts, issue 22.4). */
const programsOf = (id: string) => {
  const { transport, receiver, shipper } = lane(id);
  return { id, transport, receiver, shipper };
};
const common = (c: LaneContext) => ['--host', c.cfg.host, '--port', String(c.lane.port), '--data-dir', c.dataDir];
const clientCert = (c: LaneContext) => [
  '--cert',
  join(c.cfg.certsDir, 'client-shipper-1.crt'),
  '--key',
  join(c.cfg.certsDir, 'client-shipper-1.key'),
];
const lspShipper = (c: LaneContext, target: string) => [
  '--target',
  target,
  '--input',
  '-',
  '--state-dir',
  c.stateDir,
  '--progress-ms',
  '0',
];

export const LANES: readonly LaneDef[] = [
  {
    ...programsOf('day08'),
    title: 'NDJSON over TCP (unacknowledged)',
    receiverArgs: common,
    shipperArgs: (_c, t) => ['--target', t, '--input', '-'],
  },
  {
    ...programsOf('day09'),
    title: 'LSP/1 over TCP, acknowledged',
    receiverArgs: common,
    shipperArgs: lspShipper,
  },
  {
    ...programsOf('day10'),
    title: 'LSP/1 over UDP, loss counted',
    receiverArgs: common,
    shipperArgs: (_c, t) => ['--target', t, '--input', '-'],
  },
  {
    ...programsOf('day11'),
    title: 'batched LSP/1 over TCP',
    receiverArgs: common,
    shipperArgs: lspShipper,
  },
  {
    ...programsOf('day12'),
    title: 'batched + compressed LSP/1 over TCP',
    receiverArgs: common,
    shipperArgs: lspShipper,
  },
  {
    ...programsOf('day13'),
    title: 'LSP/1 over TLS 1.3',
    receiverArgs: (c) => [...common(c), '--certs', c.cfg.certsDir, ...(c.lane.mtls ? ['--mtls'] : [])],
    shipperArgs: (c, t) => [
      ...lspShipper(c, t),
      '--ca',
      join(c.cfg.certsDir, 'ca.crt'),
      ...(c.lane.mtls ? clientCert(c) : []),
    ],
  },
  {
    ...programsOf('day14'),
    title: 'the load-test lane',
    receiverArgs: common,
    shipperArgs: lspShipper,
  },
  {
    ...programsOf('syslog'),
    title: 'syslog: RFC 5424/3164 over UDP, TCP (octet counting or LF) and TLS',
    receiverArgs: (c) => [
      '--host',
      c.cfg.host,
      '--tcp-port',
      String(c.lane.port),
      '--udp-port',
      String(c.lane.port),
      '--tls-port',
      String(c.lane.tlsPort ?? 6514),
      '--certs',
      c.cfg.certsDir,
      '--data-dir',
      c.dataDir,
      ...(c.lane.mtls ? ['--mtls'] : []),
    ],
    shipperArgs: (_c, t) => ['--target', t, '--input', '-'],
  },
];

export { laneAvailable, programPath } from '../../shared/lanes.ts';
