// The harness in one import, for a day's checks: `import { waitFor, readRecords, … } from './harness/index.ts'`.
export {
  CheckFailure,
  expectEqual,
  expectTrue,
  fail,
  failNow,
  show,
  waitFor,
  waitUntil,
  type FailureInfo,
  type WaitForOptions,
} from './assert.ts';
export { HarnessError, type HarnessErrorCode } from './errors.ts';
export { applyPatches, materializeFixture, type Fixture, type Patch } from './fixtures.ts';
export {
  formatRanges,
  readRecords,
  readRejects,
  readStats,
  statNumber,
  verifySeqs,
  type PersistedRecord,
  type PersistedRecords,
  type RejectEntry,
  type SeqReport,
  type Stats,
} from './persisted.ts';
export { deriveSeed, mulberry32, pick, randInt, type Rng } from './rng.ts';
export { REPO_ROOT, knownLessons, loadManifest, runChecks, summarize, type RunChecksOptions } from './runner.ts';
export { connectTcp, TcpClient, type Closed } from './tcp.ts';
export type {
  Check,
  CheckContext,
  CheckResult,
  DayManifest,
  ProgramEvent,
  ProgramExit,
  ProgramName,
  RunningProgram,
  RunResult,
  StopResult,
  WatchedProgram,
  WatchOptions,
} from './types.ts';
export { firstErrorLine, tail } from './stderr.ts';
export { formatTodoRef, todoMap, type TodoRef } from './todos.ts';
