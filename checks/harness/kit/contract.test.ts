// The generated process-contract check (kit/contract.ts) against a fake context: each step of the table passes on
// a program that keeps the contract and fails, naming the command, on one that breaks it.
import { describe, expect, it } from 'vitest';
import { CheckFailure } from '../assert.ts';
import type { CheckContext, ProgramName, RunResult } from '../types.ts';
import {
  badFlagCase,
  contractCheck,
  envReceiver,
  expectCliContract,
  expectReadyLine,
  RECEIVER_BASE,
  runByEnv,
  type ContractCheckSpec,
  type ContractDirs,
  type ProgramContract,
} from './contract.ts';

const result = (over: Partial<RunResult>): RunResult => ({
  exitCode: 0,
  signal: null,
  timedOut: false,
  ms: 5,
  stdout: '',
  stderr: '',
  json: [],
  ...over,
});

/** A context whose `run` answers with `answer(program, args)` and records each call. */
function fakeCtx(answer: (program: ProgramName, args: string[]) => RunResult) {
  const calls: string[] = [];
  const ctx = {
    run: (program: ProgramName, args: string[]) => {
      calls.push(`${program} ${args.join(' ')}`);
      return Promise.resolve(answer(program, args));
    },
  } as unknown as CheckContext;
  return { ctx, calls };
}

/** A program that keeps the contract: usage on --help, exit 2 naming the first unknown or bad flag. */
const keeper = (_: ProgramName, args: string[]): RunResult =>
  args.includes('--help')
    ? result({ stdout: 'usage: --port N --data-dir DIR' })
    : args.includes('--bogus')
      ? result({ exitCode: 2, stderr: 'unknown flag --bogus\n' })
      : result({ exitCode: 2, stderr: `bad value for ${args.at(-2)}\n` });

let dirs = 0;
const table: ProgramContract[] = [
  {
    program: 'receiver',
    usage: ['--port', '--data-dir'],
    noReady: 'validate first',
    base: ['--port', '0'],
    bad: [['--bogus'], { args: ['--port', 'abc'], flag: '--port', cmd: 'receiver --port abc', hint: 'h' }],
  },
  { program: 'shipper', base: () => Promise.resolve(['--state-dir', `d${++dirs}`]), usage: [], bad: [['--x', '1']] },
];

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('expectCliContract', () => {
  it('passes a program that keeps the contract, after running --help and every bad case', async () => {
    const { ctx, calls } = fakeCtx(keeper);
    await expectCliContract(ctx, table, { timeoutMs: 1000 });
    expect(calls).toEqual([
      'receiver --help',
      'receiver --port 0 --bogus',
      'receiver --port 0 --port abc',
      'shipper --help',
      'shipper --state-dir d1 --x 1',
    ]);
  });

  it('fails on a usage that does not name a flag', async () => {
    const { ctx } = fakeCtx((p, a) => (a.includes('--help') ? result({ stdout: 'usage: --port N' }) : keeper(p, a)));
    const err = await failure(expectCliContract(ctx, table, { timeoutMs: 1000 }));
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).expected).toBe('receiver usage naming --data-dir');
  });

  it('fails on a bad value that exits 0, naming the command', async () => {
    const { ctx } = fakeCtx((p, a) => (a.includes('abc') ? result({ exitCode: 0 }) : keeper(p, a)));
    const err = await failure(expectCliContract(ctx, table, { timeoutMs: 1000 }));
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).expected).toContain('receiver --port abc');
  });

  it('fails on a stderr line that does not name the flag', async () => {
    const { ctx } = fakeCtx((p, a) => (a.includes('--bogus') ? result({ exitCode: 2, stderr: 'no\n' }) : keeper(p, a)));
    const err = await failure(expectCliContract(ctx, table, { timeoutMs: 1000 }));
    expect((err as CheckFailure).expected).toBe('a stderr line naming --bogus from `receiver --bogus`');
  });

  it('with noReady, fails on a refused start that printed its ready line first', async () => {
    const ready = { event: 'ready' };
    const { ctx } = fakeCtx((p, a) =>
      a.includes('--bogus') ? result({ exitCode: 2, stderr: '--bogus\n', json: [ready] }) : keeper(p, a),
    );
    const err = await failure(expectCliContract(ctx, table, { timeoutMs: 1000 }));
    expect((err as CheckFailure).hint).toBe('validate first');
  });
});

describe('badFlagCase', () => {
  it('spells out the short forms with the contract hints', () => {
    expect(badFlagCase('shipper', ['--bogus'])).toEqual({
      args: ['--bogus'],
      flag: '--bogus',
      cmd: 'shipper --bogus',
      hint: 'an unknown flag is an error: one stderr line naming it, exit 2',
    });
    expect(badFlagCase('receiver', ['--port', 'abc']).hint).toBe(
      'a bad value is an error: one stderr line naming the flag, exit 2',
    );
    expect(badFlagCase('receiver', ['--fsync', 'x', 'h'])).toEqual({
      args: ['--fsync', 'x'],
      flag: '--fsync',
      cmd: 'receiver --fsync x',
      hint: 'h',
    });
  });
});

describe('expectReadyLine', () => {
  const line = { event: 'ready', role: 'receiver', lesson: 'day09', transport: 'lsp1-tcp', host: '127.0.0.1', port: 7 };

  it('passes the line it describes', () => {
    expectReadyLine(line, { lesson: 'day09', transport: 'lsp1-tcp', port: 7, defaultHost: true });
  });

  it.each([
    [{ lesson: 'day08' }, 'ready line "lesson"'],
    [{ transport: 'tcp' }, 'ready line "transport"'],
    [{ host: '0.0.0.0' }, 'ready line "host" (default --host)'],
    [{ port: 8 }, 'ready line "port" when started with LOGSTREAM_PORT'],
  ])('fails a line with %o, naming the field', (wrong, what) => {
    const err = (() => {
      try {
        expectReadyLine({ ...line, ...wrong }, { lesson: 'day09', transport: 'lsp1-tcp', port: 7, defaultHost: true });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).expected).toContain(what);
  });
});

describe('runByEnv', () => {
  it('returns the done line of a run configured by the environment', async () => {
    const done = { event: 'done', acked: 3 };
    const { ctx, calls } = fakeCtx(() => result({ json: [{ event: 'progress' }, done] }));
    const got = await runByEnv(ctx, 'shipper', { LOGSTREAM_GENERATE: '3' }, { cmd: 'c', hint: 'h', timeoutMs: 9 });
    expect(got.done).toEqual(done);
    expect(calls).toEqual(['shipper ']);
  });

  it('fails a run without a done line, and one that exits 1', async () => {
    const none = fakeCtx(() => result({ stdout: 'hi' }));
    const e1 = await failure(runByEnv(none.ctx, 'shipper', {}, { cmd: 'c', hint: 'h', timeoutMs: 9 }));
    expect((e1 as CheckFailure).expected).toBe('a {"event":"done",…} line on the stdout of `c`');
    const bad = fakeCtx(() => result({ exitCode: 1 }));
    const e2 = await failure(runByEnv(bad.ctx, 'shipper', {}, { cmd: 'c', hint: 'h', timeoutMs: 9 }));
    expect((e2 as CheckFailure).hint).toBe('h');
  });
});

describe('contractCheck', () => {
  /** A fake context as fakeCtx's, with temp dirs t1, t2, … */
  function withTmp(answer: (program: ProgramName, args: string[]) => RunResult) {
    const fake = fakeCtx(answer);
    let n = 0;
    Object.assign(fake.ctx, { tmp: () => Promise.resolve(`t${++n}`) });
    return fake;
  }
  const programs = {
    receiver: { base: RECEIVER_BASE, usage: ['--port'], bad: [['--bogus'] as [string]] },
    shipper: {
      base: async ({ tmp, fresh }: ContractDirs) => ['--state-dir', await tmp(), '--certs', await fresh('c')],
      usage: [],
      bad: [['--port', 'abc'] as [string, string]],
    },
  };

  /** The check of `programs` with its own steps `then`. */
  const checkWith = (then: ContractCheckSpec['then'], points?: number) =>
    contractCheck({ id: 'd99.1', title: 't', timeoutMs: 5, programs, runs: { timeoutMs: 1000 }, then, points });

  it('is given (0 points) unless it earns points, and runs the table in order, then its own steps', async () => {
    const { ctx, calls } = withTmp(keeper);
    let seen: ContractDirs | undefined;
    const check = checkWith(async (_, dirs) => {
      seen = dirs;
      expect(await dirs.fresh('c')).toBe(await dirs.fresh('c')); // one path per name
    });
    expect(check).toMatchObject({ id: 'd99.1', given: true, points: 0, timeoutMs: 5 });
    expect(checkWith(undefined, 5)).not.toHaveProperty('given');
    await check.run(ctx);
    expect(calls).toEqual([
      'receiver --help',
      'receiver --data-dir t1 --port 0 --bogus',
      'shipper --help',
      'shipper --state-dir t2 --certs t3/c --port abc',
    ]);
    expect(seen?.dataDir).toBe('t1');
  });

  it('fails, and skips its own steps, when a program breaks the table', async () => {
    const { ctx } = withTmp((p, a) => (a.includes('--bogus') ? result({ exitCode: 0 }) : keeper(p, a)));
    let ran = false;
    const err = await failure(checkWith(() => Promise.resolve(void (ran = true))).run(ctx));
    expect((err as CheckFailure).expected).toContain('receiver --bogus');
    expect(ran).toBe(false);
  });
});

describe('envReceiver', () => {
  /** A context whose receiver announces `ready` (its port: LOGSTREAM_PORT, unless `ready` says otherwise). */
  function startCtx(ready: Record<string, unknown>) {
    const started: Array<{ args: string[]; env: Record<string, string> }> = [];
    const ctx = {
      log: () => undefined,
      start: (_: ProgramName, args: string[], opts: { env: Record<string, string> }) => {
        started.push({ args, env: opts.env });
        const line = { port: Number(opts.env['LOGSTREAM_PORT']), ...ready };
        return Promise.resolve({ ready: line, port: line.port });
      },
    } as unknown as CheckContext;
    return { ctx, started };
  }
  const ready = { role: 'receiver', lesson: 'day09', transport: 'lsp1-tcp', host: '127.0.0.1' };

  it('starts the receiver on a free port named by LOGSTREAM_PORT, and checks that its ready line announces it', async () => {
    const { ctx, started } = startCtx(ready);
    const spec = { args: ['--x', '1'], env: { LOGSTREAM_Y: '2' }, port: 'tcp' as const };
    const { port } = await envReceiver(ctx, 'dd', { ...spec, ready: { lesson: 'day09', transport: 'lsp1-tcp' } });
    expect(port).toBeGreaterThan(0);
    expect(started).toEqual([
      { args: ['--data-dir', 'dd', '--x', '1'], env: { LOGSTREAM_PORT: String(port), LOGSTREAM_Y: '2' } },
    ]);
  });

  it('fails a ready line with another port, and one with another lesson', async () => {
    const wrongPort = startCtx({ ...ready, port: 1 });
    const want = { lesson: 'day09', transport: 'lsp1-tcp' };
    const e1 = await failure(envReceiver(wrongPort.ctx, 'dd', { port: 'tcp', ready: want }));
    expect((e1 as CheckFailure).expected).toContain('ready line "port"');
    const e2 = await failure(envReceiver(startCtx(ready).ctx, 'dd', { port: 0, ready: { ...want, lesson: 'day10' } }));
    expect((e2 as CheckFailure).expected).toContain('ready line "lesson"');
  });
});
