/**
 * Network abuse against a running LSP/1 receiver (lessons/day12/receiver.ts: TCP, every codec), started
 * as a child process through the process contract. Each attack: the receiver stays up, its RSS stays
 * bounded (sampled from /proc, reported), and a well-behaved client on another connection still gets
 * its records persisted and ACKed. Results: tests/abuse/last-run.json.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CODECS, zstdCodec } from '../../shared/protocol/codecs.ts';
import { encodeFrame, encodeHello, encodePing, FIELD, FrameType, HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { xxh32 } from '../../shared/protocol/lz4-frame.ts';
import {
  ABUSE_LIMITS,
  abuseSuite,
  closed,
  goodLspClient,
  idleFlood,
  LspSession,
  mib,
  MiB,
  openMany,
  persistedOfStream,
  rawConnect,
  record,
  resetStorm,
  slowloris,
  waitFor,
} from './support.ts';

const MAX_CONNECTIONS = ABUSE_LIMITS.maxConnections;

const abuse = abuseSuite({
  suite: 'lsp-day12',
  receiver: {
    name: 'day12',
    file: 'lessons/day12/receiver.ts',
    // every reject written: 'non-UTF-8 bytes' reads the rejects' lines (rejects.ndjson samples 100 a second by
    // default); the other suites count rejects from stats.json, which counts every one
    args: () => ['--fsync', 'interval', '--fsync-interval-ms', '20', '--rejects-per-second', '0'],
  },
  good: (rx) => goodLspClient(rx),
  keep: ['lsp', 'rejects'],
});

describe('LSP/1 receiver (day 12) under network abuse', () => {
  it('slowloris: 100 connections trickling a frame a byte at a time are cut by the idle timeout', async () => {
    const frame = encodeHello(1, { name: 'x'.repeat(200) });
    await abuse.attacked('slowloris (100 conns, 1 byte / 100 ms)', () =>
      slowloris(abuse.rx.port, 100, (i) => frame.subarray(i % frame.length, (i % frame.length) + 1)),
    );
  });

  it(`idle connections past the limit: ${MAX_CONNECTIONS * 5} opened, at most ${MAX_CONNECTIONS} held, the rest refused`, async () => {
    await abuse.attacked(`idle flood (${MAX_CONNECTIONS * 5} conns, limit ${MAX_CONNECTIONS})`, async () => {
      const flood = await idleFlood(abuse.rx.port, MAX_CONNECTIONS * 5, MAX_CONNECTIONS);
      await abuse.untilOpen(1); // the good client's
      return flood;
    });
  });

  it('connect-and-reset storm: 2000 connections reset at once (half after half a frame)', async () => {
    await abuse.attacked('connect/reset storm (2000)', async () => {
      const storm = await resetStorm(abuse.rx.port, encodeHello(1, { name: 'reset' }).subarray(0, 20));
      await abuse.untilOpen(1); // the good client's
      return storm;
    });
  });

  it('4 GiB declared length: NACK LS_ERR_TOO_LARGE at the header, nothing buffered', async () => {
    await abuse.attacked('4 GiB declared length', async () => {
      const codes: Array<string | undefined> = [];
      for (const len of [0xffffffff, 0x80000000, 4 * MiB + 1]) {
        const head = encodeFrame({
          type: FrameType.BATCH,
          count: 1,
          stream: 9,
          seq: 1,
          payload: Buffer.from('{}'),
        }).subarray(0, HEADER_SIZE);
        head.writeUInt32BE(len, FIELD.length);
        const s = new LspSession(await rawConnect(abuse.rx.port));
        s.socket.write(head);
        s.socket.write(randomBytes(64 << 10)); // and a little of the "payload"
        codes.push(await s.nackCode());
        await closed(s.socket);
      }
      expect(codes).toEqual(['LS_ERR_TOO_LARGE', 'LS_ERR_TOO_LARGE', 'LS_ERR_TOO_LARGE']);
      return { nacks: codes };
    });
  });

  it('decompression bombs for every codec: NACK LS_ERR_TOO_LARGE, memory bounded by the decoded limit', async () => {
    const bombs = await makeBombs();
    await abuse.attacked(`decompression bombs (${Object.keys(bombs).join(', ')})`, async () => {
      const got: Record<string, unknown> = {};
      for (const [name, { codec, payload, inflatesTo }] of Object.entries(bombs)) {
        const s = new LspSession(await rawConnect(abuse.rx.port));
        // Every BATCH follows its stream's HELLO (a receiver refuses one that does not: LS_ERR_HELLO_REQUIRED).
        s.socket.write(encodeHello(77, { name: 'bomber' }));
        await s.until((fs) => fs.some((f) => f.type === FrameType.ACK));
        s.socket.write(encodeFrame({ type: FrameType.BATCH, codec, count: 1, stream: 77, seq: 1, payload }));
        const code =
          codec === 0
            ? await s
                .until((fs) => fs.some((f) => f.type !== FrameType.ACK || f.seq >= 1))
                .then((fs) => FrameType[fs.find((f) => f.type !== FrameType.ACK || f.seq >= 1)!.type])
            : await s.nackCode(20_000);
        got[name] = {
          code,
          wireKiB: Math.round(payload.length / 1024),
          inflatesToMiB: mib(inflatesTo),
          rssPeakMiB: mib(abuse.rx.rss.peak),
        };
        // a compressed bomb is fatal; the raw 4 MiB line is only a record over the limit (rejected, ACKed)
        expect(code, name).toBe(codec === 0 ? 'ACK' : 'LS_ERR_TOO_LARGE');
        s.socket.destroy();
        await closed(s.socket);
      }
      return got;
    });
  });

  it('non-UTF-8 bytes: invalid records are rejected one by one, a non-UTF-8 HELLO is a NACK', async () => {
    await abuse.attacked('non-UTF-8 records and HELLO', async () => {
      const bad = [
        Buffer.from([0xff, 0xfe, 0x7b]),
        Buffer.concat([Buffer.from(record(1).slice(0, -2)), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
        Buffer.from(`${record(2)}\u00a0`),
        Buffer.from(`\ufeff${record(3)}`),
      ];
      const stream = 4242;
      const s = new LspSession(await rawConnect(abuse.rx.port));
      s.socket.write(encodeHello(stream, { name: 'bad-bytes' }));
      const payload = Buffer.concat(bad.flatMap((b) => [b, Buffer.from('\n')]));
      s.socket.write(encodeFrame({ type: FrameType.BATCH, count: bad.length, stream, seq: 1, payload }));
      await s.until((fs) => fs.some((f) => f.type === FrameType.ACK && f.seq >= bad.length));
      s.socket.destroy();
      const h = new LspSession(await rawConnect(abuse.rx.port));
      h.socket.write(encodeFrame({ type: FrameType.HELLO, stream: 1, payload: Buffer.from([0x7b, 0xff, 0x7d]) }));
      const helloNack = await h.nackCode();
      expect(helloNack).toBe('LS_ERR_PAYLOAD');
      // the one place the rejects' lines are read (sampling off, see above): each names its stream and reason
      const rejects = await waitFor('4 rejects', async () => {
        const lines = (await readFile(`${abuse.rx.dataDir}/rejects.ndjson`, 'utf8').catch(() => ''))
          .split('\n')
          .filter((l) => l.includes(`"stream":${stream}`));
        return lines.length >= 4 ? lines.map((l) => (JSON.parse(l) as { reason: string }).reason) : undefined;
      });
      return { rejects, helloNack };
    });
  });

  it('deeply nested JSON: 20 000 levels in attrs are stored as sent, 60 000 nested arrays rejected', async () => {
    await abuse.attacked('deeply nested JSON', async () => {
      const deep = `{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"deep","attrs":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
      const arrays = '['.repeat(30_000) + ']'.repeat(30_000);
      const stream = 4343;
      const s = new LspSession(await rawConnect(abuse.rx.port));
      s.socket.write(encodeHello(stream, { name: 'deep' }));
      s.socket.write(
        encodeFrame({ type: FrameType.BATCH, count: 2, stream, seq: 1, payload: encodeBatchPayload([deep, arrays]) }),
      );
      await s.until((fs) => fs.some((f) => f.type === FrameType.ACK && f.seq >= 2));
      s.socket.destroy();
      expect(await waitFor('deep record persisted', () => persistedOfStream(abuse.rx.dataDir, stream))).toBe(1);
      return { persisted: 1, recordBytes: deep.length };
    });
  });

  it('PING flood from a client that never reads: the receiver stops reading it instead of queueing PONGs', async () => {
    await abuse.attacked('PING flood, never reading (64 MiB of PINGs)', async () => {
      const s = await rawConnect(abuse.rx.port);
      s.pause(); // never read: PONGs pile up on the receiver's side
      const pings = Buffer.concat(Array.from({ length: 4096 }, (_, i) => encodePing(i))); // 112 KiB
      let sent = 0;
      const until = Date.now() + 6000;
      while (sent < 64 * MiB && Date.now() < until && !s.destroyed) {
        if (!s.write(pings))
          await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => setTimeout(r, 200))]);
        sent += pings.length;
      }
      const accepted = sent - s.writableLength;
      // the receiver paused this connection (shared/lsp-receiver.ts, counted in stats.json lsp.writeBlocked)
      const blocked = await waitFor(
        'lsp.writeBlocked in stats.json',
        async () => ((await abuse.stats())?.['lsp'] as { writeBlocked?: number } | undefined)?.writeBlocked,
      );
      s.destroy();
      return { pingBytesOffered: sent, acceptedByKernelOrReceiver: accepted, writeBlocked: blocked };
    });
  });

  it('HELLO flood with 20 000 distinct stream ids (measured: per-stream state)', async () => {
    await abuse.attacked('HELLO flood, 20 000 distinct streams', async () => {
      const s = new LspSession(await rawConnect(abuse.rx.port));
      const n = 20_000;
      const base = 5_000_000;
      for (let i = 0; i < n; i += 1000)
        s.socket.write(Buffer.concat(Array.from({ length: 1000 }, (_, j) => encodeHello(base + i + j, { name: 'h' }))));
      await s.until((fs) => fs.length >= n, 20_000);
      s.socket.destroy();
      const stats = await waitFor('stats with the streams', async () => {
        const st = await abuse.stats();
        const count = Object.keys((st?.['streams'] as object | undefined) ?? {}).length;
        return count >= n ? count : undefined;
      });
      return { streamsInStats: stats };
    });
  });

  it('partial frames at the payload limit: 16 connections each hold 4 MiB − 1 byte (measured: the per-connection bound)', async () => {
    await abuse.attacked('16 conns × (4 MiB − 1) partial frames', async () => {
      const payload = Buffer.alloc(4 * MiB, 0x61);
      const frame = encodeFrame({ type: FrameType.BATCH, count: 1, stream: 99, seq: 1, payload });
      const partial = frame.subarray(0, frame.length - 1);
      const socks = await openMany(16, abuse.rx.port);
      const t0 = Date.now();
      await Promise.all(socks.map((s) => new Promise((r) => s.write(partial, r))));
      const heldPeak = abuse.rx.rss.sample();
      await Promise.all(socks.map(closed)); // cut by the idle timeout, buffers released
      return {
        connections: socks.length,
        bytesHeldEach: partial.length,
        rssWhileHeldMiB: mib(heldPeak),
        cutAfterMs: Date.now() - t0,
      };
    });
  });

  it('garbage: 300 connections of random bytes each get a NACK or a close', async () => {
    await abuse.attacked('random garbage (300 conns × 4 KiB)', async () => {
      const codes: Record<string, number> = {};
      for (let round = 0; round < 3; round++) {
        const socks = await openMany(100, abuse.rx.port);
        const sessions = socks.map((sock) => new LspSession(sock));
        for (const [i, s] of sessions.entries()) {
          const g = randomBytes(4096);
          if (i % 2) g.write('LS\x01', 0, 'latin1'); // past the magic and version
          s.socket.write(g);
        }
        for (const s of sessions) {
          const c = (await s.nackCode(5000)) ?? 'closed';
          codes[c] = (codes[c] ?? 0) + 1;
          s.socket.destroy();
        }
      }
      return { nacks: codes };
    });
  });
});

interface Bomb {
  codec: number;
  payload: Buffer;
  inflatesTo: number;
}

/** Small payloads that inflate to hundreds of MiB or more, one (or two) per codec. */
async function makeBombs(): Promise<Record<string, Bomb>> {
  const zeros = Buffer.alloc(64 * MiB);
  const bombs: Record<string, Bomb> = {};
  // gzip: multi-member — 16 members of 64 MiB of zeros (~64 KiB each) inflate to 1 GiB
  const member = zlib.gzipSync(zeros, { level: 9 });
  bombs['gzip 1 GiB'] = {
    codec: 1,
    payload: Buffer.concat(Array.from({ length: 16 }, () => member)),
    inflatesTo: 1024 * MiB,
  };
  // brotli: one stream of 256 MiB of zeros
  const big = Buffer.alloc(256 * MiB);
  bombs['brotli 256 MiB'] = {
    codec: 4,
    payload: zlib.brotliCompressSync(big, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }),
    inflatesTo: 256 * MiB,
  };
  const zstd = CODECS.get(2)!;
  if (zstd.availability().ok) {
    // with content sizes (refused from the header) and streamed without them (refused by counting)
    const frame = zstd.compress(zeros, 19);
    bombs['zstd 1 GiB (sized frames)'] = {
      codec: 2,
      payload: Buffer.concat(Array.from({ length: 16 }, () => frame)),
      inflatesTo: 1024 * MiB,
    };
    const streamed = await buffer(Readable.from([big]).pipe(zstdCodec.compressStream(3)));
    bombs['zstd 256 MiB (streamed, no size)'] = { codec: 2, payload: streamed, inflatesTo: 256 * MiB };
  }
  const lz4 = CODECS.get(3)!;
  if (lz4.availability().ok) {
    const sized = lz4.compress(big);
    bombs['lz4 256 MiB (sized)'] = { codec: 3, payload: sized, inflatesTo: 256 * MiB };
    // the same blocks without the content size in the header: only block-by-block counting stops it
    const desc = Buffer.from([sized[4]! & ~0b1000, sized[5]!]);
    bombs['lz4 256 MiB (no size)'] = {
      codec: 3,
      payload: Buffer.concat([
        sized.subarray(0, 4),
        desc,
        Buffer.from([(xxh32(desc) >>> 8) & 0xff]),
        sized.subarray(15),
      ]),
      inflatesTo: 256 * MiB,
    };
  }
  // none: a 4 MiB (the payload limit) single line, count 1 — not a bomb, the largest honest frame
  bombs['none 4 MiB line'] = { codec: 0, payload: Buffer.alloc(4 * MiB, 0x61), inflatesTo: 4 * MiB };
  return bombs;
}
