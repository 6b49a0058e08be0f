// The parse pool (issue 21.2): answers like the function it runs, line for line, in every call; a worker that
// dies fails the calls it held with LS_ERR_PARSE_WORKER_FAILED (never a silent hang) and is replaced.
import { afterEach, describe, expect, it } from 'vitest';
import { ParsePool, ParsePoolError, parseThreadsOption } from './parse-pool.ts';

// The function the workers run, as a module of its own: a line `bad…` gets a verdict, `crash` ends the
// worker thread, `throw` throws.
const MODULE = `data:text/javascript,${encodeURIComponent(`
export function check(lines, from, tag) {
  const out = new Array(lines.length);
  for (let i = from; i < lines.length; i++) {
    const s = lines[i].toString();
    if (s === 'crash') process.exit(7);
    if (s === 'throw') throw new Error('boom');
    if (s.startsWith('bad')) out[i] = { reason: tag, line: s };
  }
  return out;
}`)}`;

const pools: Array<ParsePool<unknown>> = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.stop();
});

async function pool(threads: number, onFailure?: (err: Error) => void): Promise<ParsePool<unknown>> {
  const p = await ParsePool.start<unknown>({ threads, module: MODULE, fn: 'check', args: ['odd'], onFailure });
  pools.push(p);
  return p;
}

const lines = (...s: string[]) => s.map((x) => Buffer.from(x));

describe('ParsePool', () => {
  it('answers each call with the verdicts of its own lines, for views of one payload and for separate buffers', async () => {
    const p = await pool(2);
    const payload = Buffer.from('ok1\nbad2\nok3\nbad4');
    const views = [payload.subarray(0, 3), payload.subarray(4, 8), payload.subarray(9, 12), payload.subarray(13)];
    const calls = Array.from({ length: 20 }, (_, k) =>
      p.run(k % 2 ? views : lines(`ok${k}`, `bad${k}`, `bad${k}x`, 'ok')),
    );
    const answers = await Promise.all(calls);
    answers.forEach((v, k) => {
      if (k % 2)
        expect(v).toEqual([undefined, { reason: 'odd', line: 'bad2' }, undefined, { reason: 'odd', line: 'bad4' }]);
      else
        expect(v).toEqual([
          undefined,
          { reason: 'odd', line: `bad${k}` },
          { reason: 'odd', line: `bad${k}x` },
          undefined,
        ]);
    });
    expect(p.pendingBytes).toBe(0);
  });

  it('a call whose function throws is rejected with LS_ERR_PARSE_WORKER_FAILED; the worker keeps serving', async () => {
    const p = await pool(1);
    await expect(p.run(lines('ok', 'throw'))).rejects.toMatchObject({ code: 'LS_ERR_PARSE_WORKER_FAILED' });
    expect(await p.run(lines('bad'))).toEqual([{ reason: 'odd', line: 'bad' }]);
    expect(p.failures).toBe(0);
  });

  it('a worker that dies fails every call it held, is reported, and is replaced', async () => {
    const failures: Error[] = [];
    const p = await pool(1, (err) => failures.push(err));
    const held = [p.run(lines('ok')), p.run(lines('crash')), p.run(lines('bad'))];
    const settled = await Promise.allSettled(held);
    // the call before the crash may have been answered; the crash and every call after it were not
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: expect.any(ParsePoolError) as unknown });
    expect(settled[2]).toMatchObject({ status: 'rejected' });
    expect(failures.map((e) => (e as ParsePoolError).code)).toEqual(['LS_ERR_PARSE_WORKER_FAILED']);
    expect(failures[0]!.message).toMatch(/exit code 7/);
    expect(p.failures).toBe(1);
    expect(p.pendingBytes).toBe(0);
    // the replacement answers
    expect(await p.run(lines('bad9'))).toEqual([{ reason: 'odd', line: 'bad9' }]);
  });

  it('--parse-threads takes a count or auto', () => {
    const o = parseThreadsOption('parse');
    expect(o.parse!('0')).toBe(0);
    expect(o.parse!('2')).toBe(2);
    expect(o.parse!('auto')).toBe(o.defaultValue);
    expect(() => o.parse!('many')).toThrow(/thread count/);
  });
});
