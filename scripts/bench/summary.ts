/**
 * `npm run bench` (scenario `all`): THE summary of issue #8 — every lane's records/s on the SAME messages,
 * in one run, alternating, beside the raw loopback ceiling, rsyslog as a peer, and the generator alone.
 *
 * One seeded corpus of N RFC 5424 messages (syslog.ts syslogCorpus, octet-counted) is the input of
 * every contender, in the form each lane takes:
 *   - rsyslog (imptcp → omfile) and our syslog lane: the octet-counted bytes themselves (syslog.ts contenders);
 *   - the LSP/1 and NDJSON lanes: the same messages parsed into records (shared/protocol/syslog/scan.ts
 *     parseSyslog, as the syslog lane does) — as NDJSON for day 08 and the ceiling, as BATCH frames of 1000
 *     for days 09/11/13, lz4-compressed frames for day 12, ≤ 1472-byte datagrams for day 10.
 * So "records/s" counts the same messages everywhere; MB/s counts each lane's own input bytes, and the
 * fraction of the ceiling is taken in MB/s (what a lane and a discarding sink have in common).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CODECS } from '../../shared/protocol/codecs.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { parseSyslog } from '../../shared/protocol/syslog/scan.ts';
import { SyslogFrameDecoder } from '../../lessons/stack/syslog-framing.ts';
import { ensureCerts } from '../../shared/tls/certs.ts';
import { findProgram } from '../../tests/support/rsyslog-peer.ts';
import { toChunks } from './blast.ts';
import { lspOver, tlsConnect } from './day13.ts';
import { loadgenAlone, loadgenDryRun, loadgenToReceiver, sharedGeneratorAlone } from './day14.ts';
import { toBatchFrames } from './lsp-blast.ts';
import { blastReceiver, lspReceiver, tempDir, withReceiver } from './receivers.ts';
import { RSS_FIGURE } from './rss.ts';
import type { BenchContext, Contender, Scenario } from './types.ts';
import { syslogCorpus, syslogScenario } from './syslog.ts';
import { runUdpReceiver, toDatagrams } from './udp-lane.ts';

/** day13.ts lspOver says HELLO for stream 13: every frame set here uses it. */
const STREAM = 13;
const BATCH = 1000;

interface SummaryInputs {
  ndjson: Buffer[];
  frames: Buffer[];
  lz4Frames: Buffer[] | undefined;
  datagrams: Buffer[];
  counts: number[];
  certsDir: string;
  ca: Buffer;
}
const inputs = new WeakMap<BenchContext, SummaryInputs>();
const inputsOf = (ctx: BenchContext): SummaryInputs => {
  const i = inputs.get(ctx);
  if (!i) throw new Error('summary inputs missing (setup did not run)');
  return i;
};

/** The corpus's messages as the LSP/1 records the syslog lane makes of them (without _rx), in order. */
export function corpusRecords(chunks: readonly Buffer[], expected: number): string[] {
  const lines: string[] = [];
  const receivedAt = Date.UTC(2026, 10, 26);
  const d = new SyslogFrameDecoder({
    maxMessageBytes: 8192,
    onMessage: (buf, s, e) => void lines.push(JSON.stringify(parseSyslog(buf.subarray(s, e), receivedAt))),
    onReject: (info) => {
      throw new Error(`summary corpus: a message was rejected (${info.reason})`);
    },
  });
  for (const c of chunks) d.push(c);
  d.end();
  if (lines.length !== expected) throw new Error(`summary corpus: ${lines.length} records for ${expected} messages`);
  return lines;
}

const lz4 = [...CODECS.values()].find((c) => c.name === 'lz4');
const lz4Ok = () => lz4?.availability().ok === true;

/**
 * A row of syslog.ts's scenario (owned with the syslog lane), found by name prefix when it runs, so a renamed
 * row there is a skipped row here, never a bench that cannot start.
 */
function syslogContender(prefix: string, role: 'syslog' | 'peer'): Contender {
  const find = () => syslogScenario.contenders.find((x) => x.name.startsWith(prefix));
  return {
    name: find()?.name ?? prefix,
    role,
    unavailable: () =>
      !find()
        ? `scripts/bench/syslog.ts has no contender named "${prefix}…"`
        : role === 'peer' && !findProgram('rsyslogd')
          ? 'rsyslogd not installed (apt-get install rsyslog)'
          : undefined,
    // syslog.ts contenders read the octet-counted bytes from ctx.chunks: that is this scenario's ctx.chunks.
    run: (ctx) => find()!.run(ctx),
  };
}

const CONTENDERS: Contender[] = [
  {
    name: 'raw loopback TCP → discarding sink',
    role: 'ceiling',
    run: (ctx) => blastReceiver('scripts/bench/raw-sink.ts', [], inputsOf(ctx).ndjson, ctx.records, { verify: false }),
  },
  {
    name: 'day08 NDJSON/TCP (no ACK)',
    role: 'lane',
    run: (ctx) =>
      blastReceiver('lessons/day08/receiver.ts', ['--fsync', 'interval'], inputsOf(ctx).ndjson, ctx.records, {
        verify: true,
      }),
  },
  {
    name: 'day09 LSP/1 ACKed, batch 1000',
    role: 'lane',
    run: (ctx) =>
      lspReceiver('lessons/day09/receiver.ts', ['--fsync', 'interval'], STREAM, inputsOf(ctx).frames, ctx.records),
  },
  // issue 21.2: the parse pool's scaling beside the default row above (0 = validated inline)
  ...[1, 2].map((n): Contender => ({
    name: `day09 LSP/1 ACKed, batch 1000, --parse-threads ${n}`,
    role: 'lane',
    run: (ctx) =>
      lspReceiver(
        'lessons/day09/receiver.ts',
        ['--fsync', 'interval', '--parse-threads', String(n)],
        STREAM,
        inputsOf(ctx).frames,
        ctx.records,
      ),
  })),
  {
    name: 'day10 UDP, unpaced datagrams',
    role: 'lane',
    lossy: true,
    async run(ctx) {
      const i = inputsOf(ctx);
      const r = await runUdpReceiver({ datagrams: i.datagrams, counts: i.counts, rate: 0 });
      return {
        records: r.delivered,
        bytes: r.bytes,
        ms: r.ms,
        note: `loss ${r.lossPct.toFixed(2)}% (kernel dropped ${r.kernelDrops ?? '?'} datagrams)`,
        extra: { lossPct: r.lossPct, kernelDrops: r.kernelDrops, appDrops: r.appDrops, ...r.rss },
      };
    },
  },
  {
    name: 'day11 LSP/1 batched receiver, batch 1000',
    role: 'lane',
    run: (ctx) =>
      lspReceiver('lessons/day11/receiver.ts', ['--fsync', 'interval'], STREAM, inputsOf(ctx).frames, ctx.records),
  },
  {
    name: 'day12 LSP/1 + lz4, batch 1000',
    role: 'lane',
    unavailable: () => (lz4Ok() ? undefined : 'lz4 codec not installed (lz4-napi)'),
    run: (ctx) =>
      lspReceiver('lessons/day12/receiver.ts', ['--fsync', 'interval'], STREAM, inputsOf(ctx).lz4Frames!, ctx.records),
  },
  {
    name: 'day13 LSP/1 over TLS 1.3, batch 1000',
    role: 'lane',
    async run(ctx) {
      const i = inputsOf(ctx);
      const r = await withReceiver(
        'lessons/day13/receiver.ts',
        ['--fsync', 'interval', '--certs', i.certsDir],
        (host, port) => lspOver(tlsConnect(i.ca), host, port, i.frames, ctx.records),
        ctx.records,
      );
      return { records: ctx.records, bytes: r.bytes, ms: r.ms, extra: r.rss };
    },
  },
  { ...loadgenToReceiver, name: `${loadgenToReceiver.name} (its own records)`, ownInput: true },
  syslogContender('syslog lane (TCP', 'syslog'),
  syslogContender('rsyslog imptcp → omfile', 'peer'),
  loadgenAlone,
  loadgenDryRun,
  sharedGeneratorAlone,
];

export const summaryScenario: Scenario = {
  title: 'every lane on the same messages, beside rsyslog, the raw loopback ceiling and the generator alone',
  baseline: 'rsyslog imptcp → omfile',
  defaultRecords: 500_000,
  figures: RSS_FIGURE,
  async setup({ records }) {
    const { chunks, bytes } = syslogCorpus(records);
    const lines = corpusRecords(chunks, records);
    const ndjson = toChunks(lines);
    const { datagrams, counts } = toDatagrams(lines, STREAM, 1472);
    const lz4Frames = lz4Ok()
      ? Array.from({ length: Math.ceil(records / BATCH) }, (_, k) =>
          encodeBatch({
            stream: STREAM,
            seq: k * BATCH + 1,
            records: lines.slice(k * BATCH, (k + 1) * BATCH),
            codec: lz4!.id,
          }),
        )
      : undefined;
    const certRoot = await tempDir('summary-certs');
    const certs = await ensureCerts(join(certRoot, 'certs'));
    const ndjsonBytes = ndjson.reduce((a, c) => a + c.length, 0);
    // recordBytes: the syslog message as sent (what rsyslog and the syslog lane read); the NDJSON size is in the notes.
    const ctx: BenchContext = {
      records,
      recordBytes: Math.round(bytes / records),
      chunks,
      teardown: () => rm(certRoot, { recursive: true, force: true }),
    };
    inputs.set(ctx, {
      ndjson,
      frames: toBatchFrames(lines, STREAM, BATCH),
      lz4Frames,
      datagrams,
      counts,
      certsDir: certs.dir,
      ca: await readFile(certs.ca.cert),
    });
    summaryScenario.notes = [
      `Input: ${records.toLocaleString('en-US')} seeded RFC 5424 messages (~${Math.round(bytes / records)} B octet-counted) for rsyslog and the syslog lane; the same messages as LSP/1 records (~${Math.round(ndjsonBytes / records)} B of NDJSON) for every other lane.`,
      'Timing: day 08 and the ceiling from connect to the receiver closing its side once all is written; days 09/11/12/13 from connect to the ACK of the last record (durable: --fsync interval); syslog lane and rsyslog from connect to the last growth of their output files, which must then hold one line per message; day 10 sends pre-encoded datagrams unpaced and counts what was delivered (it loses: never counted as "best lane").',
      '"of raw loopback ceiling" = the lane\'s MB/s of its own input over the discarding sink\'s MB/s. "vs rsyslog" = records/s over rsyslog\'s messages/s on the same messages.',
      'Server peak RSS (second table, issue 21.6: a receiver stays ≤ 150 MB at saturation): the VmHWM of the row\'s server process (receiver, raw sink or rsyslogd; all its threads) read from /proc at the end of each run, before it is stopped; median over the runs; "–" for rows with no server of their own (the generators) or where /proc is missing.',
      'Every row runs its own fresh processes and data dir, in alternating order. Day 14 rows run only when lessons/day14 exists (its loadgen generates its own records).',
    ].join(' ');
    return ctx;
  },
  contenders: CONTENDERS,
};
