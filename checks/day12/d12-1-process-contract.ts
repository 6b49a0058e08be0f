import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { exitedWith, stderrNames } from '../harness/kit/exit.ts';
import { at } from '../harness/kit/records.ts';

export const d12_1: Check = {
  id: 'd12.1',
  title: 'Process contract (ready line, --help, bad flag or codec exit 2, LOGSTREAM_* env) for receiver and shipper',
  // Given: the flags, --help, the ready line and the codec checks at start come with the lesson.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [help, badRest, badCodecs, badDecoded] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--rest-compression', 'bzip2'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--codecs', 'gzip,snappy'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--max-decoded-bytes', 'lots'], { timeoutMs: 20_000 }),
    ]);
    exitedWith(help, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = help.stdout + help.stderr;
    for (const flag of [
      '--port',
      '--data-dir',
      '--codecs',
      '--max-payload-bytes',
      '--max-decoded-bytes',
      '--rest-compression',
      '--rotate-bytes',
    ]) {
      expectTrue(usage.includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    for (const [r, flag, cmd] of [
      [badRest, '--rest-compression', 'receiver --rest-compression bzip2'],
      [badCodecs, '--codecs', 'receiver --codecs gzip,snappy'],
      [badDecoded, '--max-decoded-bytes', 'receiver --max-decoded-bytes lots'],
    ] as const) {
      exitedWith(r, 2, cmd, 'a bad value is an error: one stderr line naming the flag, exit 2');
      stderrNames(r, flag, cmd);
    }

    const [shHelp, shCodec, shLevel] = await Promise.all([
      ctx.run('shipper', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--codec', 'snappy'], {
        timeoutMs: 20_000,
      }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--codec', 'gzip', '--level', '42'], {
        timeoutMs: 20_000,
      }),
    ]);
    exitedWith(shHelp, 0, 'shipper --help', '--help prints usage on stdout and exits 0');
    const shUsage = shHelp.stdout + shHelp.stderr;
    for (const flag of ['--target', '--codec', '--level', '--min-compress-bytes', '--batch-records', '--state-dir']) {
      expectTrue(shUsage.includes(flag), {
        expected: `shipper usage naming ${flag}`,
        received: show(shUsage.slice(0, 400)),
        where: 'shipper --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(
      shCodec,
      2,
      'shipper --codec snappy',
      'an unknown codec is a usage error, found at start: one stderr line naming --codec, exit 2',
    );
    stderrNames(shCodec, '--codec', 'shipper --codec snappy');
    exitedWith(
      shLevel,
      2,
      'shipper --codec gzip --level 42',
      'gzip takes levels 0..9: a level out of range is a usage error at start',
    );
    stderrNames(shLevel, '--level', 'shipper --codec gzip --level 42');

    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: '0', LOGSTREAM_REST_COMPRESSION: 'gzip' },
    });
    ctx.log(`receiver ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where: 'receiver ready line' });
    expectEqual(r['lesson'], 'day12', {
      what: 'ready line "lesson"',
      where: 'receiver ready line',
      hint: '{"event":"ready","role":"receiver","lesson":"day12","transport":"lsp1-tcp","host","port","codecs",…}',
    });
    expectEqual(r['transport'], 'lsp1-tcp', { what: 'ready line "transport"', where: 'receiver ready line' });
    const codecs = r['codecs'];
    expectTrue(Array.isArray(codecs) && codecs.includes('none') && codecs.includes('gzip'), {
      expected:
        'ready line "codecs": the codecs this receiver accepts (at least "none" and "gzip", which need no package)',
      received: show(codecs),
      where: 'receiver ready line',
      hint: 'say at start which codecs you take, so a missing package shows before the first batch needs it',
    });
    expectEqual(r['restCompression'], 'gzip', {
      what: 'ready line "restCompression" with LOGSTREAM_REST_COMPRESSION=gzip',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment',
    });

    const N = 500;
    const env = {
      LOGSTREAM_TARGET: at(rx.port),
      LOGSTREAM_GENERATE: String(N),
      LOGSTREAM_STATE_DIR: await ctx.tmp(),
      LOGSTREAM_CODEC: 'gzip',
      LOGSTREAM_LEVEL: '1',
      LOGSTREAM_PROGRESS_MS: '0',
    };
    const res = await ctx.run('shipper', [], { env, timeoutMs: 20_000 });
    const cmd = 'LOGSTREAM_TARGET=… LOGSTREAM_GENERATE=500 LOGSTREAM_CODEC=gzip LOGSTREAM_LEVEL=1 shipper.ts';
    exitedWith(
      res,
      0,
      cmd,
      'the shipper reads LOGSTREAM_CODEC, LOGSTREAM_LEVEL, … and exits 0 once everything is ACKed',
    );
    const done = res.json.find((j) => j['event'] === 'done');
    if (!done)
      fail({
        expected: `a {"event":"done",…} line from \`${cmd}\``,
        received: show(res.stdout.slice(-300) || '(empty stdout)'),
        where: 'shipper stdout',
      });
    expectEqual(done['acked'], N, { what: 'done line "acked"', where: `done line ${show(done, 400)}` });
    expectEqual(done['codec'], 'gzip', {
      what: 'done line "codec"',
      where: `done line ${show(done, 400)}`,
      hint: 'the done line says which codec was used',
    });
    for (const k of ['rawBytes', 'wireBytes', 'ratio', 'cpuMsPerMB']) {
      expectTrue(typeof done[k] === 'number' && Number.isFinite(done[k]), {
        expected: `done line field "${k}" (a number)`,
        received: show(done, 400),
        where: 'shipper done line',
        hint: 'report bytes before (rawBytes) and after (wireBytes) compression, their ratio, and CPU ms spent compressing per MB',
      });
    }
  },
};
