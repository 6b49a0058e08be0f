// SIGTERM as the process contract asks (CONVENTIONS.md §2): stop accepting, flush, final stats, exit 0 within 5 s,
// no file ending in half a line. The receiver checks of days 08 and 10 make it the same way (issue 22).
import { expectTrue, fail, show } from '../assert.ts';
import { readRecords, readStats, type PersistedRecords, type Stats } from '../persisted.ts';
import type { CheckContext, RunningProgram } from '../types.ts';

/**
 * SIGTERMs `rx` and checks it exits 0 within 5 s (killed at 8 s) and leaves no `*.ndjson` ending in a partial line.
 * Hints: `hang` when it does not exit, `exit` for a wrong exit, `partial` for a half line. Returns what it persisted
 * and when the SIGTERM was sent.
 */
export async function expectSigtermExit(
  ctx: CheckContext,
  rx: RunningProgram,
  dataDir: string,
  hints: { hang: string; exit: string; partial?: string },
): Promise<{ sigtermAt: number; read: PersistedRecords }> {
  const sigtermAt = Date.now();
  const res = await rx.stop(8000);
  ctx.log(`SIGTERM → exit code ${res.exitCode}, signal ${res.signal}, after ${res.ms} ms`);
  if (res.timedOut)
    fail({
      expected: 'exit within 5 s of SIGTERM',
      received: 'still running after 8 s (killed)',
      where: `pid ${rx.pid}`,
      hint: hints.hang,
    });
  expectTrue(res.exitCode === 0 && res.signal === null, {
    expected: 'exit code 0 after SIGTERM',
    received: `exit code ${res.exitCode}, signal ${res.signal}; stderr tail: ${show(rx.stderrText().trim().slice(-300))}`,
    where: `pid ${rx.pid}`,
    hint: hints.exit,
  });
  expectTrue(res.ms <= 5000, {
    expected: 'exit within 5000 ms of SIGTERM',
    received: `${res.ms} ms`,
    where: `pid ${rx.pid}`,
  });
  const read = await readRecords(dataDir);
  const partial = read.files.find((f) => f.endsInPartialLine);
  expectTrue(!partial, {
    expected: 'no *.ndjson ending in a partial line after SIGTERM',
    received: `ends in ${show(partial?.partialTail)}`,
    where: partial?.file ?? dataDir,
    ...(hints.partial === undefined ? {} : { hint: hints.partial }),
  });
  return { sigtermAt, read };
}

/** The stats.json written at shutdown: there, JSON, and updated at or after `sigtermAt` (else `hint`). */
export async function expectFinalStats(dataDir: string, sigtermAt: number, hint: string): Promise<Stats> {
  const stats = await readStats(dataDir).catch((err: Error) =>
    fail({ expected: 'stats.json to be JSON', received: err.message, where: `${dataDir}/stats.json` }),
  );
  if (!stats) fail({ expected: 'stats.json written at shutdown', received: 'no stats.json', where: dataDir });
  const updatedAt = stats['updatedAt'];
  const updatedMs =
    typeof updatedAt === 'string' ? Date.parse(updatedAt) : typeof updatedAt === 'number' ? updatedAt : NaN;
  expectTrue(updatedMs >= sigtermAt - 5, {
    expected: `stats.json updatedAt ≥ the SIGTERM time ${new Date(sigtermAt).toISOString()}`,
    received: show(updatedAt),
    where: `${dataDir}/stats.json`,
    hint,
  });
  return stats;
}
