import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { readStats, statNumber } from '../harness/persisted.ts';
import type { Check, ProgramExit, WatchedProgram } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';
import { type Json, TODO_SCHEDULE, TODO_TURN, TODO_LATENCY, startReceiver, stopReceiver, num } from './support.ts';

// ---- d14.7 -----------------------------------------------------------------------------------------

const STALL_MS = 1500;

/** Waits for a watched program's exit; a CheckFailure if it takes longer than `timeoutMs`. */
async function exitOf(p: WatchedProgram, timeoutMs: number): Promise<ProgramExit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
  const exit = await Promise.race([p.exit, late]);
  clearTimeout(timer);
  if (!exit)
    fail({
      expected: `\`${p.cmd}\` to exit within ${timeoutMs} ms`,
      received: `still running; stderr tail: ${show(p.stderrText().slice(-400))}`,
      where: `pid ${p.pid}`,
    });
  return exit;
}

export const d14_7: Check = {
  id: 'd14.7',
  title: `Latency counts from when a record was due: a loadgen stopped for ${STALL_MS / 1000} s mid-run (SIGSTOP) catches up, and the records due during the stall report it`,
  points: 20,
  timeoutMs: 120_000,
  // the stall is a measured pause: other checks' load would blur it
  exclusive: true,
  async run(ctx) {
    const rx = await startReceiver(ctx);
    const rate = 3000;
    const seconds = 6;
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const jsonFile = path.join(await ctx.tmp(), 'report.json');
    const lg = ctx.watch('loadgen', [
      '--target',
      at(rx.port),
      '--rate',
      String(rate),
      '--duration',
      String(seconds),
      '--seed',
      String(seed),
      '--json',
      jsonFile,
    ]);
    ctx.log(`loadgen pid ${lg.pid}: ${lg.cmd}`);
    const received = async () => statNumber(await readStats(rx.dataDir).catch(() => null), 'records.received') ?? 0;
    // Once records arrive, the run is under way: stop the generator (the receiver keeps going)
    await waitFor(async () => lg.exited() !== undefined || (await received()) >= rate / 10, {
      timeoutMs: 45_000,
      what: `the first ${rate / 10} records to reach the receiver (stats.json records.received)`,
      where: `${rx.dataDir}/stats.json`,
      hint: `${TODO_TURN}: an open-loop run starts sending at once`,
    });
    if (lg.exited())
      fail({
        expected: `records reaching the receiver while the loadgen runs (${rate}/s for ${seconds} s)`,
        received: `the loadgen exited (code ${lg.exited()!.exitCode}) and the receiver got ${await received()} records; stdout tail ${show(lg.stdoutTail().slice(-300))}`,
        where: lg.cmd,
        hint: `${TODO_TURN}: an open-loop run of ${seconds} s sends what is due, from the start to the end`,
      });
    lg.kill('SIGSTOP');
    const before = await received();
    ctx.log(
      `SIGSTOP with ${before} records received (about ${(before / rate).toFixed(2)} s into the run); SIGCONT in ${STALL_MS} ms`,
    );
    await new Promise((r) => setTimeout(r, STALL_MS)); // the stall itself: nothing to wait for
    lg.kill('SIGCONT');
    const exit = await exitOf(lg, 60_000);
    expectTrue(exit.exitCode === 0, {
      expected: `\`${lg.cmd}\` to exit 0 (everything sent was ACKed)`,
      received: `exit ${exit.exitCode}, signal ${exit.signal}; stderr ${show(lg.stderrText().slice(-400))}`,
      where: lg.cmd,
    });
    const text = await readFile(jsonFile, 'utf8').catch(() =>
      fail({ expected: `--json to write the report to ${jsonFile}`, received: 'no such file', where: lg.cmd }),
    );
    const rep = JSON.parse(text) as Json;
    const where = 'the --json report';
    const want = rate * seconds;
    const sent = num(rep, 'sent', where);
    ctx.log(`report: sent ${sent}, latencyMs ${JSON.stringify(rep['latencyMs'])}`);
    expectTrue(Math.abs(sent - want) <= want * 0.05, {
      expected: `about ${want} records sent (${rate}/s × ${seconds} s, ±5%): the records due during the stall go after it`,
      received: String(sent),
      where,
      hint: `${TODO_TURN}: after a pause, what is due by now is more than one turn's worth — send all of it (the schedule catches up), never skip it`,
    });
    await stopReceiver(rx);

    const lat = (rep['latencyMs'] ?? {}) as Json;
    const [p50, p90, max] = [lat['p50'], lat['p90'], lat['max']];
    expectTrue(typeof p50 === 'number' && typeof p90 === 'number' && typeof max === 'number', {
      expected: 'latencyMs.p50, p90 and max as numbers (an ACKed lane)',
      received: show(lat),
      where,
      hint: TODO_LATENCY,
    });
    expectTrue(max >= STALL_MS * 0.8, {
      expected: `latencyMs.max ≥ ${STALL_MS * 0.8} ms (the generator was stopped for ${STALL_MS} ms)`,
      received: `${max} ms`,
      where,
      hint: `${TODO_LATENCY}: max is the largest value recorded`,
    });
    // About a quarter of the records were due during the stall, waiting up to its length: p90 must show it
    expectTrue(p90 >= STALL_MS * 0.4, {
      expected: `latencyMs.p90 ≥ ${STALL_MS * 0.4} ms: the ~${Math.round((STALL_MS / 1000 / seconds) * 100)}% of the records that were due during the ${STALL_MS} ms stall waited for it`,
      received: `p90 ${p90} ms (p50 ${p50}, max ${max})`,
      where,
      hint: `${TODO_TURN}: each piece enters its lane with the time its first record was DUE (start + schedule.timeOf(n)), not the time the loop got round to it — or the stall disappears from the latency ("coordinated omission")`,
    });
    // ...and the rest were sent on time: their clocks start at their own due time, not at the run's start
    expectTrue(p50 <= STALL_MS * 0.5, {
      expected: `latencyMs.p50 ≤ ${STALL_MS * 0.5} ms: most records were sent on time and waited only for their ACK`,
      received: `p50 ${p50} ms (p90 ${p90}, max ${max})`,
      where,
      hint: `${TODO_SCHEDULE}: timeOf(n) is when record n is due (seconds from the start: the smallest t with dueAt(t) ≥ n)`,
    });
  },
};
