// The benchmark's types (issue 22.3): a scenario, its contenders and what a run returns. In a module of their own
// so the scenarios and scenarios.ts (the registry that imports every scenario) do not import each other.
import type { Role } from './report.ts';

export interface BenchContext {
  records: number;
  recordBytes: number;
  /** the seeded records as ~1 MiB NDJSON chunks */
  chunks: Buffer[];
  teardown?: () => Promise<void>;
}

export interface RunResult {
  records: number;
  bytes: number;
  ms: number;
  note?: string;
  extra?: Record<string, unknown>;
}

export interface Contender {
  name: string;
  /** what the row is in a summary (report.ts summarise) */
  role?: Role;
  /** may lose records (UDP): its records/s is what was delivered */
  lossy?: boolean;
  /** fed its own records rather than the scenario's input (never compared with the peer) */
  ownInput?: boolean;
  /** why it cannot run here (a missing program or lesson), or undefined when it can: the row is then skipped */
  unavailable?: () => string | undefined;
  run(ctx: BenchContext): Promise<RunResult>;
}

export interface Scenario {
  title: string;
  baseline: string;
  contenders: Contender[];
  notes?: string;
  /** records per run when --records is not given (default 1,000,000); --quick divides it by 20 */
  defaultRecords?: number;
  /** the chart that fits its figures (report.ts): records/s bars by default */
  chart?: 'bars' | 'loss-curve';
  /** `extra` fields shown beside records/s in the report (medians over the runs), key → column label */
  figures?: Record<string, string>;
  /** Builds the corpus (in memory, or with I/O: may return a promise). */
  setup(opts: { records: number }): BenchContext | Promise<BenchContext>;
}
