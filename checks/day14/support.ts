// What several of day14's checks use (split out of checks/day14.ts, issue 22).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expectTrue, fail, show } from '../harness/assert.ts';
import type { PersistedRecord } from '../harness/persisted.ts';
import type { CheckContext, RunResult } from '../harness/types.ts';
import { exitedWith } from '../harness/kit/exit.ts';
import { startReceiver as startKitReceiver, type Receiver } from '../harness/kit/programs.ts';

export type Json = Record<string, unknown>;

/** Where the learner's code for each idea lives (hints name the TODO, never code the learner does not write). */
export const TODO_SCHEDULE = 'your TODO in lessons/day14/schedule.ts (dueAt, timeOf)';

export const TODO_TURN = 'your TODO in lessons/day14/loadgen.ts (openLoopTurn)';

export const TODO_LATENCY = 'your TODO in lessons/day14/latency.ts (latencyReport)';

export const TODO_VERIFY = 'your TODO in lessons/day14/verify.ts (countPersisted)';

/**
 * Every field of the `--json` report, as the README documents it ([d14.5]): dotted path → type.
 * `streams.*` are the fields of each element of `streams`. "number|null" fields are null when the run
 * had nothing to measure (no ACKs on the lane, no --verify-dir).
 */
export const REPORT_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['lesson', 'string'],
  ['transport', 'string'],
  ['target', 'string'],
  ['dryRun', 'boolean'],
  ['seed', 'number'],
  ['idPrefix', 'string'],
  ['mode', 'string'],
  ['rate', 'number|string|null'],
  ['ramp', 'number'],
  ['steps', 'array|null'],
  ['connections', 'number'],
  ['batchRecords', 'number'],
  ['codec', 'string'],
  ['generated', 'number'],
  ['sent', 'number'],
  ['acked', 'number'],
  ['unacked', 'number|null'],
  ['dropped', 'number'],
  ['verified', 'boolean'],
  ['persisted', 'number|null'],
  ['lost', 'number|null'],
  ['duplicated', 'number|null'],
  ['errors', 'number'],
  ['lastError', 'string|null'],
  ['sendMs', 'number'],
  ['elapsedMs', 'number'],
  ['achievedRate', 'number'],
  ['bytes', 'number'],
  ['mbPerSec', 'number'],
  ['latencyMs.p50', 'number|null'],
  ['latencyMs.p90', 'number|null'],
  ['latencyMs.p99', 'number|null'],
  ['latencyMs.p999', 'number|null'],
  ['latencyMs.max', 'number|null'],
  ['latencyMs.mean', 'number|null'],
  ['latencyMs.n', 'number'],
  ['record.meanBytes', 'number'],
  ['record.minBytes', 'number'],
  ['record.maxBytes', 'number'],
  ['record.size', 'string'],
  ['cpu.userMs', 'number'],
  ['cpu.systemMs', 'number'],
  ['cpu.percent', 'number'],
  ['peakRssMb', 'number'],
  ['streams', 'array'],
  ['streams.*.stream', 'number'],
  ['streams.*.sent', 'number'],
  ['streams.*.acked', 'number'],
  ['streams.*.persisted', 'number|null'],
  ['streams.*.lost', 'number|null'],
  ['streams.*.duplicated', 'number|null'],
  ['verifyMs', 'number|null'],
];

/** The receiver on an OS-picked port with its own data dir (stats every 100 ms); a loaded machine may take a while. */
export const startReceiver = (ctx: CheckContext, extra: string[] = []) =>
  startKitReceiver(ctx, { extra, host: false, readyTimeoutMs: 45_000 });

/** Stops the receiver (SIGTERM: it flushes and writes its final stats) and checks it exited 0. */
export async function stopReceiver(r: Receiver): Promise<void> {
  const s = await r.rx.stop(8000);
  expectTrue(s.exitCode === 0 && !s.timedOut, {
    expected: 'the receiver to exit 0 on SIGTERM',
    received: `exit ${s.exitCode}, signal ${s.signal}${s.timedOut ? ' (killed after 8 s)' : ''}`,
    where: 'receiver',
    hint: 'SIGTERM: stop accepting, flush, fsync, final stats, exit 0',
  });
}

/** Runs the loadgen; returns its result, its done line, and the --json report (when asked for). */
export async function runLoadgen(
  ctx: CheckContext,
  args: string[],
  opts: { json?: boolean; timeoutMs?: number; codes?: number[] } = {},
): Promise<{ r: RunResult; done: Json; report: Json | undefined; cmd: string }> {
  const jsonFile = opts.json ? path.join(await ctx.tmp(), 'report.json') : undefined;
  const all = [...args, ...(jsonFile ? ['--json', jsonFile] : [])];
  const cmd = `loadgen.ts ${all.join(' ')}`;
  ctx.log(cmd);
  const r = await ctx.run('loadgen', all, { timeoutMs: opts.timeoutMs ?? 40_000 });
  exitedWith(
    r,
    opts.codes ?? [0],
    cmd,
    'the loadgen exits 0 when everything it sent was delivered as the lane promises, 1 when not',
    { tailChars: 400 },
  );
  const lines = r.stdout.trimEnd().split('\n');
  const lastLine = lines[lines.length - 1] ?? '';
  let done: Json | undefined;
  try {
    const v: unknown = JSON.parse(lastLine);
    if (v && typeof v === 'object' && (v as Json)['event'] === 'done') done = v as Json;
  } catch {
    done = undefined;
  }
  if (!done)
    fail({
      expected: 'stdout to end with the done line {"event":"done","sent":…,"acked":…,"dropped":…}',
      received: show(lastLine.slice(0, 300)),
      where: `${cmd}, last stdout line`,
      hint: 'CONVENTIONS.md §2: a load generator ends with one done JSON line on stdout; human logs go to stderr',
    });
  let report: Json | undefined;
  if (jsonFile) {
    const text = await readFile(jsonFile, 'utf8').catch(() => undefined);
    if (text === undefined)
      fail({ expected: `--json to write the report to ${jsonFile}`, received: 'no such file', where: cmd });
    try {
      report = JSON.parse(text) as Json;
    } catch (err) {
      fail({
        expected: 'the --json file to hold one JSON object',
        received: `${(err as Error).message}: ${show(text.slice(0, 200))}`,
        where: jsonFile,
      });
    }
  }
  ctx.log(`done: ${JSON.stringify(done).slice(0, 600)}`);
  return { r, done, report, cmd };
}

export function num(v: Json, key: string, where: string): number {
  const x = v[key];
  if (typeof x !== 'number' || !Number.isFinite(x))
    fail({
      expected: `"${key}" to be a number`,
      received: show(x),
      where,
      hint: 'see the README: every report field and its type',
    });
  return x;
}

/** This run's records in the receiver's files (attrs.id = <prefix>-<n>). */
export function ofRun(records: PersistedRecord[], prefix: string): Array<{ n: number; rec: PersistedRecord }> {
  const out: Array<{ n: number; rec: PersistedRecord }> = [];
  const head = `${prefix}-`;
  for (const rec of records) {
    const attrs = rec.record['attrs'] as Json | undefined;
    const id = attrs?.['id'];
    if (typeof id === 'string' && id.startsWith(head)) out.push({ n: Number(id.slice(head.length)), rec });
  }
  return out;
}
