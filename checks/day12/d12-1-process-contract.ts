import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { contractCheck, envReceiver, RECEIVER_BASE, runByEnv, SHIPPER_BASE } from '../harness/kit/contract.ts';
import { at } from '../harness/kit/records.ts';

// Given: the flags, --help, the ready line and the codec checks at start come with the lesson.
export const d12_1: Check = contractCheck({
  id: 'd12.1',
  title: 'Process contract (ready line, --help, bad flag or codec exit 2, LOGSTREAM_* env) for receiver and shipper',
  timeoutMs: 60_000,
  programs: {
    receiver: {
      base: RECEIVER_BASE,
      usage: [
        '--port',
        '--data-dir',
        '--codecs',
        '--max-payload-bytes',
        '--max-decoded-bytes',
        '--rest-compression',
        '--rotate-bytes',
      ],
      bad: [
        ['--rest-compression', 'bzip2'],
        ['--codecs', 'gzip,snappy'],
        ['--max-decoded-bytes', 'lots'],
      ],
    },
    shipper: {
      base: SHIPPER_BASE,
      usage: ['--target', '--codec', '--level', '--min-compress-bytes', '--batch-records', '--state-dir'],
      bad: [
        [
          '--codec',
          'snappy',
          'an unknown codec is a usage error, found at start: one stderr line naming --codec, exit 2',
        ],
        {
          args: ['--codec', 'gzip', '--level', '42'],
          flag: '--level',
          cmd: 'shipper --codec gzip --level 42',
          hint: 'gzip takes levels 0..9: a level out of range is a usage error at start',
        },
      ],
    },
  },
  runs: { timeoutMs: 20_000 },
  async then(ctx, { dataDir }) {
    const { rx } = await envReceiver(ctx, dataDir, {
      args: ['--stats-interval-ms', '100'],
      env: { LOGSTREAM_REST_COMPRESSION: 'gzip' },
      port: 0,
      ready: {
        lesson: 'day12',
        transport: 'lsp1-tcp',
        shape: '{"event":"ready","role":"receiver","lesson":"day12","transport":"lsp1-tcp","host","port","codecs",…}',
      },
    });
    const r = rx.ready;
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
    const { done } = await runByEnv(ctx, 'shipper', env, {
      cmd: 'LOGSTREAM_TARGET=… LOGSTREAM_GENERATE=500 LOGSTREAM_CODEC=gzip LOGSTREAM_LEVEL=1 shipper.ts',
      timeoutMs: 20_000,
      hint: 'the shipper reads LOGSTREAM_CODEC, LOGSTREAM_LEVEL, … and exits 0 once everything is ACKed',
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
});
